"""The ``codif`` command line (Typer): data, train, evaluate, cv, promote, search, serve, monitor, dashboard, annotate.

Expected errors (``SardonyxError``: bad data, unknown codes, unreachable MLflow) print one message and one line per
violation on stderr, exit code 1, never a traceback. Heavy libraries (pandas, scikit-learn, MLflow) are imported
inside the commands, so that ``codif --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from codif import __version__
from codif.serve.cli import serve
from sardonyx.errors import ErrorReport, SardonyxError

app = typer.Typer(
    name="codif",
    help="codif: NACE/NAF coding of activity descriptions, trained and served the MLOps way.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Build the training corpus.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder of the shared data (default: $CODIF_DATA_DIR, else ../shared/data)."),
]
Params = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Training parameter key=value (repeatable), e.g. model=fasttext, dim=100."),
]


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


app.command()(serve)


def _say(message: str) -> None:
    err_console.print(message, highlight=False)


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


@data_app.command("build")
def data_build(
    *,
    expert: Annotated[
        list[Path] | None,
        typer.Option("--expert", help="Expert CSV with the columns of gold_dev.csv (repeatable)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")] = Path("build/codif/corpus.parquet"),
    folds: Annotated[int, typer.Option(help="Number of folds given to expert rows (grouped by text).")] = 5,
    data_dir: DataDir = None,
) -> None:
    """Assemble the corpus: nomenclature labels, notes, products, one-stop-shop keywords (+ expert rows)."""
    from codif.data import build_corpus, corpus_hash, write_corpus
    from codif.nomenclature import Nomenclature

    nomenclature = Nomenclature.load(data_dir=data_dir)
    corpus = build_corpus(nomenclature, expert or [], data_dir=data_dir, folds=folds)
    path = write_corpus(corpus, out)
    counts = corpus["source"].value_counts()
    _say(f"wrote {len(corpus)} rows, {corpus['label'].nunique()} subclasses, data version {corpus_hash(corpus)}")
    for source, count in counts.items():
        _say(f"  {source:<15} {count:>6}")
    typer.echo(str(path))


@app.command()
def train(
    *,
    data: Annotated[
        Path | None, typer.Option(help="Corpus from `codif data build` (default: the nomenclature corpus, built now).")
    ] = None,
    param: Params = None,
    evaluation: Annotated[
        Path | None,
        typer.Option(
            "--eval", help="Expert CSV to evaluate on; forms seen in training are left out. Default: gold_dev."
        ),
    ] = None,
    holdout_fold: Annotated[
        list[int] | None,
        typer.Option("--holdout-fold", help="Leave the expert rows of this fold out of training (repeatable)."),
    ] = None,
    run_name: Annotated[str | None, typer.Option(help="MLflow run name.")] = None,
    register_model: Annotated[
        bool, typer.Option("--register/--no-register", help="Register the model (else only log it with the run).")
    ] = True,
    parent_run: Annotated[str | None, typer.Option(help="Nest the run under this MLflow run (search trials).")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else a local store).")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option(help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else codif).")
    ] = None,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train, evaluate, log to MLflow ($MLFLOW_TRACKING_URI), register model `codif` as @challenger; print its URI."""
    import os

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    if experiment:
        os.environ["MLFLOW_EXPERIMENT_NAME"] = experiment
    from codif.nomenclature import Nomenclature
    from codif.params import parse_params
    from codif.paths import GOLD_CSV, data_file
    from codif.tracking import ensure_reachable
    from codif.train import holdout, load_training_corpus, register, train_and_evaluate

    params = parse_params(param or [])
    uri = ensure_reachable()  # fail before training, not after
    nomenclature = Nomenclature.load(data_dir=data_dir)
    corpus = load_training_corpus(nomenclature, data, data_dir)
    if holdout_fold:
        corpus = holdout(corpus, holdout_fold)
    _say(f"training {params.model} on {len(corpus)} rows ({int((corpus['source'] == 'expert').sum())} expert)")
    eval_path = evaluation if evaluation is not None else data_file(GOLD_CSV, data_dir)
    result = train_and_evaluate(
        params, nomenclature=nomenclature, corpus=corpus, evaluation_file=eval_path, data_dir=data_dir
    )
    _say(f"trained in {result.seconds:.1f} s")
    if result.evaluation is not None:
        metrics = result.evaluation.metrics
        _say(
            f"{eval_path.name}: n={metrics['n']} top-1 subclass {metrics['top1']['subclass']:.4f}, "
            f"top-5 {metrics['top5']['subclass']:.4f} ({result.evaluation_excluded} forms seen in training left out)"
        )
    else:
        _say(f"{eval_path.name}: every form was seen in training, no evaluation logged")
    _say(f"Insee test cases passed: {int(result.insee_tests['passed'].sum())}/{len(result.insee_tests)}")
    registered = register(
        result,
        params,
        nomenclature,
        corpus=corpus,
        data=str(data) if data is not None else "nomenclature corpus (built at training time)",
        evaluation_name=eval_path.name,
        run_name=run_name,
        register_model=register_model,
        parent_run_id=parent_run,
    )
    done = registered.registered
    if done is None:  # register() always fills it; this keeps the type checker honest
        raise RuntimeError("the model was not logged")
    if done.version is None:
        _say(f"logged the model with run {done.run_id} on {uri} (not registered)")
    else:
        _say(f"registered {done.name} version {done.version} as @challenger (run {done.run_id}) on {uri}")
    if as_json:
        _print_json(
            {
                "model_uri": done.model_uri,
                "version": done.version,
                "run_id": done.run_id,
                "training_seconds": round(result.seconds, 2),
                "metrics": result.evaluation.metrics if result.evaluation else None,
            }
        )
    else:
        typer.echo(done.model_uri)


@app.command()
def evaluate(
    *,
    model: Annotated[str, typer.Option("--model", help="Model URI: models:/codif@champion, runs:/..., or a folder.")],
    data: Annotated[Path, typer.Option("--data", help="Expert CSV (gold_dev.csv columns).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as one JSON object.")] = False,
    insee_tests: Annotated[bool, typer.Option("--insee-tests", help="Also run Insee's 20 test cases.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Top-1 at 5 levels, top-5, macro-F1, ECE, Brier, auto-coding curve; unclassifiable (XXXXX) rows apart."""
    from codif.data import read_labelled_forms
    from codif.evaluate import evaluate_forms, insee_test_cases, load_model
    from codif.nomenclature import Nomenclature

    nomenclature = Nomenclature.load(data_dir=data_dir)
    labelled = read_labelled_forms(data, nomenclature)  # bad rows reported before loading the model
    coder = load_model(model)
    evaluation = evaluate_forms(coder, labelled, nomenclature)
    metrics = evaluation.metrics
    tests = insee_test_cases(coder, nomenclature, data_dir) if insee_tests else None
    if as_json:
        if tests is not None:
            metrics = {**metrics, "insee_tests": {"passed": int(tests["passed"].sum()), "n": len(tests)}}
        _print_json(metrics)
        return
    _show_metrics(metrics, title=f"{model} on {data.name}")
    if tests is not None:
        from rich.table import Table

        table = Table("case", "expected", "predicted", "IC", "passed", "text", title="Insee test cases")
        for row in tests.itertuples():
            table.add_row(
                str(row.case),
                row.expected,
                row.predicted,
                f"{row.ic:.2f}",
                "yes" if row.passed else "NO",
                str(row.text)[:60],
            )
        console.print(table)


def _show_metrics(metrics: dict[str, Any], title: str) -> None:
    from rich.table import Table

    table = Table("metric", "value", title=title)
    table.add_row("forms (XXXXX apart)", str(metrics["n"]))
    for level, value in metrics["top1"].items():
        table.add_row(f"top-1 {level}", f"{value:.4f}")
    table.add_row("top-5 subclass", f"{metrics['top5']['subclass']:.4f}")
    table.add_row("macro-F1", f"{metrics['macro_f1']:.4f}")
    table.add_row("ECE", f"{metrics['ece']:.4f}")
    table.add_row("Brier", f"{metrics['brier']:.4f}")
    console.print(table)
    curve = Table("IC ≥", "coded automatically", "accuracy of those", title="auto-coding curve")
    for point in metrics["auto_coding"][::2]:
        accuracy = "-" if point["accuracy"] is None else f"{point['accuracy']:.4f}"
        curve.add_row(f"{point['threshold']:.2f}", f"{point['coverage']:.1%}", accuracy)
    console.print(curve)
    unclassifiable = metrics["unclassifiable"]
    if unclassifiable["n"]:
        at = {p["threshold"]: p["share"] for p in unclassifiable["auto_coded"]}
        console.print(
            f"unclassifiable (XXXXX): {unclassifiable['n']} forms, mean IC {unclassifiable['mean_ic']:.3f}, "
            f"{at.get(0.8, 0.0):.0%} would be coded automatically at IC ≥ 0.80"
        )


@app.command()
def cv(
    *,
    folds: Annotated[int, typer.Option(help="Number of folds (grouped by normalised text).")] = 5,
    expert: Annotated[
        list[Path] | None, typer.Option("--expert", help="Expert CSV (repeatable). Default: gold_dev.csv.")
    ] = None,
    param: Params = None,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as one JSON object.")] = False,
) -> None:
    """Cross-validate a configuration: nomenclature corpus + expert rows of the other folds, pooled metrics."""
    from codif.cv import cross_validate
    from codif.nomenclature import Nomenclature
    from codif.params import parse_params
    from codif.paths import GOLD_CSV, data_file

    params = parse_params(param or [])
    nomenclature = Nomenclature.load(data_dir=data_dir)
    files = expert or [data_file(GOLD_CSV, data_dir)]
    metrics = cross_validate(params, files, nomenclature, folds=folds, seed=seed, data_dir=data_dir, progress=_say)
    if as_json:
        _print_json(metrics)
    else:
        _show_metrics(metrics, title=f"{folds}-fold cross-validation, {params.model}")
        (top1_mean, top1_sd), (top5_mean, top5_sd) = metrics["fold_top1_mean_sd"], metrics["fold_top5_mean_sd"]
        console.print(
            f"per-fold top-1 subclass: {metrics['fold_top1']} (mean {top1_mean:.4f} ± {top1_sd:.4f}); "
            f"top-5: {metrics['fold_top5']} (mean {top5_mean:.4f} ± {top5_sd:.4f}); "
            f"median training {metrics['training_seconds']} s"
        )


@app.command()
def promote(
    *,
    metric: Annotated[str, typer.Option(help="Run metric to compare (higher is better, except ece and brier).")] = (
        "top1_subclass"
    ),
    force: Annotated[bool, typer.Option(help="Promote the challenger without comparing.")] = False,
    rollback: Annotated[bool, typer.Option(help="Swap @champion and @previous instead.")] = False,
) -> None:
    """Move @champion to @challenger when it is better (the replaced version stays as @previous)."""
    from codif.tracking import promote as do_promote
    from codif.tracking import rollback as do_rollback

    outcome = do_rollback() if rollback else do_promote(metric, force=force)
    typer.echo(outcome.message)


MLFLOW_ADVICE = (
    # MLflow's advice to authors of type-hinted pyfunc models, printed while importing and logging: not for users
    ".*Any type hint is inferred as AnyType",
    ".*Add type hints to the `predict` method",
)


@app.command()
def search(
    *,
    trials: Annotated[int, typer.Option(help="Number of configurations to draw and train.")] = 8,
    parallel: Annotated[int, typer.Option(help="Trials running at once (one python-job service each).")] = 2,
    model: Annotated[str, typer.Option(help="Model family whose grid is searched: tfidf or fasttext.")] = "tfidf",
    seed: Annotated[int, typer.Option(help="Seed of the draw.")] = 0,
    data: Annotated[
        Path | None,
        typer.Option(help="Corpus with expert folds (default: built now from gold_dev.csv into build/codif/)."),
    ] = None,
    holdout_fold: Annotated[
        list[int] | None, typer.Option("--holdout-fold", help="Expert folds every trial is evaluated on (default 0).")
    ] = None,
    metric: Annotated[str, typer.Option(help="Run metric that picks the best trial.")] = "top1_subclass",
    param: Params = None,
    requirement: Annotated[
        list[str] | None,
        typer.Option("--requirement", help="pip requirements of the trials' environment (default sardonyx[codif])."),
    ] = None,
    platform_url: Annotated[
        str | None, typer.Option("--platform", help="Platform API URL (default: the settings' api_url).")
    ] = None,
    project: Annotated[str | None, typer.Option(help="Platform project (default: your personal one).")] = None,
    register_best: Annotated[
        bool, typer.Option("--register/--no-register", help="Register the best trial as @challenger.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for all trials.")] = 3600.0,
    data_dir: DataDir = None,
) -> None:
    """Draw N configurations, run each as its own python-job on the platform, register the best."""
    from codif.data import build_corpus, write_corpus
    from codif.nomenclature import Nomenclature
    from codif.params import parse_params
    from codif.paths import GOLD_CSV, data_file
    from codif.paths import data_dir as resolve_data_dir
    from codif.search import draw_configurations, run_search
    from sardonyx.client import PlatformClient

    base = list(param or [])
    fixed = [pair.partition("=")[0].strip() for pair in base]
    configurations = draw_configurations(trials, model=model, seed=seed, fixed=fixed)
    parse_params(base, base=configurations[0])  # fixed parameters must be valid too
    root = resolve_data_dir(data_dir)
    if data is None:
        nomenclature = Nomenclature.load(data_dir=root)
        corpus = build_corpus(nomenclature, [data_file(GOLD_CSV, root)], data_dir=root)
        data = write_corpus(corpus, Path("build/codif/search-corpus.parquet"))
        _say(f"built the corpus {data} ({len(corpus)} rows)")
    with PlatformClient(platform_url, project=project) as client:
        tracking = _search_tracking_uri(client)
        result = run_search(
            client,
            configurations,
            data=data.resolve(),
            data_dir=root,
            holdout_folds=holdout_fold or [0],
            parallel=parallel,
            metric=metric,
            tracking_uri=tracking,
            requirements=requirement or ["sardonyx[codif]"],
            base_params=base,
            timeout_seconds=timeout,
            register=register_best,
            progress=_say,
        )
    if result.best is None:
        _say("no trial produced the metric: see `sardonyx logs` of the failed trials")
        raise typer.Exit(1)
    typer.echo(f"models:/codif/{result.version}" if result.version else f"runs:/{result.best.run_id}/model")


annotate_app = typer.Typer(
    help="Continuous annotation with Label Studio: push recent predictions, pull the experts' codes.",
    no_args_is_help=True,
)
app.add_typer(annotate_app, name="annotate")
StudioUrl = Annotated[str, typer.Option("--url", envvar="LABEL_STUDIO_URL", help="Label Studio's URL.")]
StudioEmail = Annotated[
    str, typer.Option("--email", envvar="LABEL_STUDIO_USERNAME", help="E-mail of the Label Studio account.")
]
StudioPassword = Annotated[
    str,
    typer.Option(
        "--password", envvar="LABEL_STUDIO_PASSWORD", help="Password of the account ($LABEL_STUDIO_PASSWORD)."
    ),
]
StudioProject = Annotated[str, typer.Option("--project", help="Label Studio project title.")]


@annotate_app.command("push")
def annotate_push(
    logs: Annotated[
        str | None,
        typer.Argument(
            help="Business logs: a folder or an s3:// prefix (default: as for codif monitor).", show_default=False
        ),
    ] = None,
    *,
    url: StudioUrl,
    email: StudioEmail,
    password: StudioPassword,
    project: StudioProject = "NAF coding",
    sample: Annotated[int, typer.Option("--sample", min=1, max=100_000, help="Distinct descriptions to send.")] = 200,
    window: Annotated[
        str | None, typer.Option("--window", help="Days sampled, FROM:TO or one day (default: the last 7 with data).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample (same seed, same forms).")] = 0,
) -> None:
    """Sample distinct descriptions among recent predictions and send them to Label Studio with the model's code."""
    import os

    from codif import monitor as monitoring
    from codif.annotate import LabelStudio, push, sample_tasks

    chosen = monitoring.Window.parse(window, option="--window") if window else None
    source = _logs_source(logs)
    connection = monitoring.connect(source, os.environ)
    if chosen is None:
        chosen = monitoring.default_windows(monitoring.data_days(connection, source)[1])[1]
    tasks = sample_tasks(connection, chosen, sample, seed)
    studio = LabelStudio(url, email, password)
    try:
        imported, known = push(studio, project, tasks)
    finally:
        studio.close()
    _say(
        f"{imported} tasks sent to {project!r} at {url} ({len(tasks)} distinct descriptions sampled in {chosen}, "
        f"{known} already there)"
    )


@annotate_app.command("pull")
def annotate_pull(
    *,
    url: StudioUrl,
    email: StudioEmail,
    password: StudioPassword,
    out: Annotated[Path, typer.Option("--out", help="CSV written (read by codif evaluate --data).")],
    project: StudioProject = "NAF coding",
    data_dir: DataDir = None,
) -> None:
    """Export the annotated tasks as a labelled CSV: codif evaluate --data measures the live model on it."""
    from codif.annotate import LabelStudio, annotated_rows, write_rows
    from codif.nomenclature import UNCLASSIFIABLE, Nomenclature

    nomenclature = Nomenclature.load(data_dir=data_dir)
    studio = LabelStudio(url, email, password)
    try:
        export = studio.export(studio.project(project, create=False))
    finally:
        studio.close()
    rows, problems = annotated_rows(export, {*nomenclature.subclasses, UNCLASSIFIABLE})
    write_rows(rows, out)
    _say(f"{len(rows)} annotated forms written to {out} ({len(export)} tasks in {project!r})")
    for problem in problems:
        _say(f"  left out: {problem.path}: {problem.reason}")


def _logs_source(logs: str | None) -> str:
    """``logs``, else where codif serve uploads the business logs in the project bucket of the environment."""
    import os

    from codif.errors import CodifDataError
    from codif.monitor import default_source

    source = logs or default_source(os.environ)
    if source is None:
        raise CodifDataError(
            "where are the business logs? Give a folder or an s3:// prefix, or set AWS_BUCKET_NAME "
            "(or AWS_WORKING_DIRECTORY_PATH) to the project bucket codif serve uploads them to"
        )
    return source


@app.command()
def monitor(
    logs: Annotated[
        str | None,
        typer.Argument(
            help="Business logs: a folder of *.jsonl files or an s3:// prefix. Default: where codif serve uploads "
            "them, s3://<project bucket>/codif/logs/ (bucket from $AWS_WORKING_DIRECTORY_PATH or $AWS_BUCKET_NAME).",
            show_default=False,
        ),
    ] = None,
    *,
    window: Annotated[
        str | None,
        typer.Option("--window", help="Days reported, FROM:TO or one day (default: the last 7 days with data)."),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Days the window is compared with (default: as many days just before)."),
    ] = None,
    threshold: Annotated[float, typer.Option("--threshold", help="IC from which a form is coded automatically.")] = 0.8,
    level: Annotated[
        str, typer.Option("--level", help="NAF level of the code breakdown and the drift: section ... subclass.")
    ] = "section",
    min_auto_rate: Annotated[
        float | None, typer.Option("--min-auto-rate", help="Alert (exit code 3) under this auto-coding rate.")
    ] = None,
    max_hellinger: Annotated[
        float | None, typer.Option("--max-hellinger", help="Alert (exit code 3) over this Hellinger distance.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    html: Annotated[
        str | None,
        typer.Option("--html", help="Also write the report as an HTML page: a local path or s3://bucket/key.html."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Volume, auto-coding rate, IC distribution, codes and drift between two windows, from the business logs."""
    import os

    from codif import monitor as monitoring
    from codif.nomenclature import Nomenclature

    chosen_level = monitoring.level_or_error(level)
    current = monitoring.Window.parse(window, option="--window") if window else None
    before = monitoring.Window.parse(reference, option="--reference") if reference else None
    source = _logs_source(logs)
    nomenclature = Nomenclature.load(data_dir=data_dir)
    connection = monitoring.connect(source, os.environ)
    report = monitoring.build_report(
        connection,
        nomenclature,
        source=source,
        window=current,
        reference=before,
        threshold=threshold,
        level=chosen_level,
        min_auto_rate=min_auto_rate,
        max_hellinger=max_hellinger,
    )
    if as_json:
        _print_json(report.as_dict())
    else:
        _show_report(report)
    if html:
        _say(f"HTML report written to {monitoring.write_html(report, html, os.environ)}")
    for alert in report.alerts:
        _say(f"[bold red]ALERT:[/] {alert}")
    if report.alerts:
        raise typer.Exit(3)


@app.command()
def dashboard(
    logs: Annotated[
        str | None,
        typer.Argument(
            help="Business logs: a folder of *.jsonl files or an s3:// prefix (default: as for codif monitor).",
            show_default=False,
        ),
    ] = None,
    *,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    refresh: Annotated[
        float, typer.Option("--refresh", min=1.0, help="Seconds after which the business logs are read again.")
    ] = 300.0,
    data_dir: DataDir = None,
) -> None:
    """Serve the monitoring report as a web page that stays current (window, threshold and level in a form)."""
    import os

    import uvicorn

    from codif.dashboard import Dashboard, create_app
    from codif.nomenclature import Nomenclature

    source = _logs_source(logs)
    board = Dashboard(source, os.environ, Nomenclature.load(data_dir=data_dir), refresh_seconds=refresh)
    _say(f"codif dashboard on http://{host}:{port}/ reading {source} (again every {refresh:g} s)")
    uvicorn.run(create_app(board), host=host, port=port, log_level="info")


def _show_report(report: Any) -> None:
    from rich.table import Table

    versions = ", ".join(f"{version} ({n})" for version, n in report.model_versions.items())
    console.print(
        f"[bold]{report.source}[/], {report.window}: {report.n} predictions, auto-coding rate "
        f"{report.auto_rate:.1%} at IC >= {report.threshold:g}, mean IC {report.mean_ic:.3f}; "
        f"model versions {versions}",
        highlight=False,
    )
    daily = Table("day", "predictions", "auto-coding rate", "mean IC", "latency p50 (ms)", title="per day")
    for row in report.daily:
        latency = "-" if row["latency_p50_ms"] is None else f"{row['latency_p50_ms']:.2f}"
        daily.add_row(row["day"], str(row["n"]), f"{row['auto_rate']:.1%}", f"{row['mean_ic']:.3f}", latency)
    console.print(daily)
    histogram = Table("IC", "predictions", "share", title="IC distribution")
    for row in report.ic_histogram:
        histogram.add_row(f"{row['from']:.1f}-{row['to']:.1f}", str(row["n"]), f"{row['n'] / report.n:.1%}")
    console.print(histogram)
    codes = Table(report.level, "label", "predictions", "auto-coding rate", title=f"top-1 code by {report.level}")
    for row in report.codes[:25]:
        codes.add_row(row["code"], row["label"][:60], str(row["n"]), f"{row['auto_rate']:.1%}")
    console.print(codes)
    text = report.text
    console.print(
        f"descriptions: {text['mean_words']:.1f} words on average (median {text['median_words']:g}), "
        f"{text['mean_characters']:.0f} characters",
        highlight=False,
    )
    frequent = Table("description (lower-cased)", "predictions", title="most frequent descriptions")
    for row in text["top_descriptions"][:5]:
        frequent.add_row(row["description"][:80], str(row["n"]))
    console.print(frequent)
    if report.drift is None:
        console.print(report.drift_note or "no drift computed", highlight=False)
        return
    drift = report.drift
    table = Table("statistic", "value", title=f"drift of {drift.current} against {drift.reference} ({drift.level})")
    table.add_row("predictions (reference / current)", f"{drift.reference_n} / {drift.current_n}")
    table.add_row("Hellinger distance", f"{drift.hellinger:.4f}")
    table.add_row("Bhattacharyya distance", "inf" if drift.bhattacharyya is None else f"{drift.bhattacharyya:.4f}")
    table.add_row("KL divergence (current || reference)", f"{drift.kl_divergence:.4f}")
    table.add_row("population stability index", f"{drift.psi:.4f}")
    if drift.chi2 is not None:
        table.add_row("chi-square (dof, p-value)", f"{drift.chi2:.2f} ({drift.chi2_dof}, {drift.chi2_p_value:.3g})")
    table.add_row("IC Kolmogorov-Smirnov (p-value)", f"{drift.ic_ks:.4f} ({drift.ic_ks_p_value:.3g})")
    table.add_row("auto-coding rate change", f"{round(drift.auto_rate_change, 3) or 0.0:+.1%}")  # no "-0.0%"
    for move in drift.biggest_moves:
        table.add_row(
            f"  {move['code']} {move['label'][:40]}", f"{move['reference_share']:.1%} -> {move['current_share']:.1%}"
        )
    console.print(table)


def _search_tracking_uri(client: Any) -> str:
    """``MLFLOW_TRACKING_URI`` when it names a server, else the project's running ``mlflow`` service."""
    import os

    from sardonyx.errors import NotFound

    configured = os.environ.get("MLFLOW_TRACKING_URI", "")
    if configured.startswith(("http://", "https://")):
        return configured
    for app_ in client.services():
        if app_.get("chartName") == "mlflow" and app_.get("status") == "running" and app_.get("urls"):
            return str(app_["urls"][0]).rstrip("/")
    raise NotFound(
        "codif search needs an MLflow server the trials can reach: set MLFLOW_TRACKING_URI to it, or launch one "
        "in the project (`sardonyx launch mlflow`)"
    )


def main() -> None:
    """Console-script entry point: run the app, rendering expected errors without a traceback (exit code 1)."""
    import warnings

    for message in MLFLOW_ADVICE:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    try:
        app()
    except SardonyxError as error:
        from rich.markup import escape

        report = ErrorReport.of(error)
        err_console.print(f"[bold red]error:[/] {escape(report.message)}", highlight=False)
        for line in report.lines:
            err_console.print(f"  - {escape(line)}", highlight=False)
        sys.exit(1)
