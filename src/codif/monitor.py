"""Monitoring of the served model from its business logs (``codif monitor``).

Reads the JSON lines ``codif serve`` writes, one per prediction (timestamp, inputs, candidates, IC, model version,
latency; :mod:`codif.serve.business_log`), from a local folder or from the S3 prefix they are uploaded to
(``s3://<bucket>/codif/logs/date=YYYY-MM-DD/``), with DuckDB, and computes what Insee's monitoring dashboard shows
(CODIF-APE-REFERENCE.md section 6.2):

- volume, auto-coding rate (share of predictions with IC >= ``threshold``; Insee's dashboard default 0.8), mean IC
  and latency per day;
- the IC distribution (10 bins of width 0.1);
- per code at a chosen NAF level: predictions and auto-coding rate;
- drift between a reference and a current window, on the top-1 code at that level (chi-square test of homogeneity,
  Hellinger and Bhattacharyya distances, KL divergence, population stability index) and on IC (two-sample
  Kolmogorov-Smirnov test): the statistics Insee's documentation names (section 6.2), which its dashboard only
  showed as side-by-side bar charts;
- text statistics: words per description, the most frequent descriptions.

Days are UTC days (the business log's timestamps are UTC).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from codif.errors import CodifDataError, MissingDataError
from sardonyx.errors import Violation

if TYPE_CHECKING:
    from codif.nomenclature import Level, Nomenclature

DEFAULT_THRESHOLD: Final = 0.8
"""IC from which a prediction is coded automatically (Insee's dashboard default, CODIF-APE-REFERENCE.md 6.2)"""
DEFAULT_WINDOW_DAYS: Final = 7
SMOOTHING: Final = 0.5
"""pseudo-count added to every category before KL and PSI (Jeffreys prior), so that they stay finite"""
TOP_DESCRIPTIONS: Final = 10

_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Window:
    """Days from ``start`` to ``end``, both included (UTC)."""

    start: date
    end: date

    @classmethod
    def parse(cls, text: str, *, option: str = "window") -> Window:
        """``2026-11-01:2026-11-07`` or one day ``2026-11-05``.

        Raises:
            CodifDataError: not two ISO dates, or ``start`` after ``end`` (the violation names ``option``).
        """
        parts = text.split(":")
        if len(parts) > 2 or not all(_DAY.fullmatch(p.strip()) for p in parts):
            raise CodifDataError(
                f"invalid {option} {text!r}", violations=[Violation(option, "expected YYYY-MM-DD or FROM:TO")]
            )
        try:
            days = [date.fromisoformat(p.strip()) for p in parts]
        except ValueError as exc:
            raise CodifDataError(f"invalid {option} {text!r}", violations=[Violation(option, str(exc))]) from None
        window = cls(days[0], days[-1])
        if window.start > window.end:
            raise CodifDataError(
                f"invalid {option} {text!r}", violations=[Violation(option, "the first day is after the last")]
            )
        return window

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"


@dataclass
class Drift:
    """Two windows compared on the top-1 code at ``level`` and on IC.

    ``p`` is the reference window's distribution of codes, ``q`` the current one's, over the codes seen in either:
    Hellinger distance sqrt(1 - BC) with BC = sum sqrt(p q) (0: same distribution, 1: disjoint); Bhattacharyya
    distance -ln BC (None when disjoint); KL(q || p) and PSI = sum (q - p) ln(q / p), both on counts smoothed by
    ``SMOOTHING`` per code; chi-square test of homogeneity of the 2 x codes table (scipy.stats.chi2_contingency);
    two-sample Kolmogorov-Smirnov test of the IC values (scipy.stats.ks_2samp).
    """

    reference: str
    current: str
    level: str
    reference_n: int
    current_n: int
    hellinger: float
    bhattacharyya: float | None
    kl_divergence: float
    psi: float
    chi2: float | None
    chi2_dof: int | None
    chi2_p_value: float | None
    ic_ks: float
    ic_ks_p_value: float
    auto_rate_change: float
    """current auto-coding rate minus the reference one"""
    biggest_moves: list[dict[str, Any]] = field(default_factory=list)
    """the codes whose share moved most: code, label, reference share, current share"""


@dataclass
class Report:
    """What ``codif monitor`` prints (``--json``: this as one object)."""

    source: str
    window: str
    threshold: float
    level: str
    n: int
    auto_rate: float
    mean_ic: float
    model_versions: dict[str, int]
    daily: list[dict[str, Any]]
    ic_histogram: list[dict[str, Any]]
    codes: list[dict[str, Any]]
    text: dict[str, Any]
    drift: Drift | None
    drift_note: str | None = None
    alerts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def logs_glob(source: str) -> str:
    """The glob DuckDB reads for ``source``: a folder of ``*.jsonl`` files (searched recursively) or an S3 prefix.

    Raises:
        MissingDataError: a local folder that does not exist.
    """
    if source.startswith("s3://"):
        return source.rstrip("/") + "/**/*.jsonl"
    folder = Path(source)
    if folder.is_file():
        return str(folder)
    if not folder.is_dir():
        raise MissingDataError(f"no business logs at {source}: not a folder, a file or an s3:// prefix")
    return str(folder / "**" / "*.jsonl")


def connect(source: str, env: Mapping[str, str]) -> Any:
    """An in-memory DuckDB holding table ``predictions`` (one row per business log line) read from ``source``.

    S3 sources use the packaged httpfs extension and the credentials and endpoint of ``env`` (``AWS_*``, as the
    platform injects them). Lines that are not business log records are skipped.

    Raises:
        MissingDataError: no business log file under ``source``.
        CodifDataError: the files cannot be read (S3 refused, not JSON lines).
    """
    import duckdb

    connection = duckdb.connect(":memory:")
    if source.startswith("s3://"):
        _configure_s3(connection, env)
    pattern = logs_glob(source)
    try:
        connection.execute(
            """
            CREATE TABLE predictions AS
            SELECT
                CAST(substr(timestamp, 1, 10) AS DATE) AS day,
                request_id,
                model_version,
                inputs.description AS description,
                inputs.type_form AS type_form,
                inputs.nature AS nature,
                inputs.surface AS surface,
                inputs.event AS event,
                inputs.cj AS cj,
                candidates[1].code AS code,
                candidates[1].probability AS probability,
                ic,
                latency_ms
            FROM read_json(
                ?,
                format = 'newline_delimited',
                columns = {
                    timestamp: 'VARCHAR',
                    request_id: 'VARCHAR',
                    model_version: 'VARCHAR',
                    inputs: 'STRUCT(description VARCHAR, type_form VARCHAR, nature VARCHAR, surface VARCHAR,
                                    event VARCHAR, cj VARCHAR)',
                    candidates: 'STRUCT(code VARCHAR, label VARCHAR, probability DOUBLE)[]',
                    ic: 'DOUBLE',
                    latency_ms: 'DOUBLE'
                },
                ignore_errors = true,
                hive_partitioning = false
            )
            WHERE timestamp IS NOT NULL AND ic IS NOT NULL
            """,
            [pattern],
        )
    except duckdb.IOException as exc:
        if "No files found" in str(exc):
            raise MissingDataError(f"no business log file (*.jsonl) under {source}") from None
        raise CodifDataError(f"cannot read the business logs under {source}: {_first_line(exc)}") from None
    except duckdb.Error as exc:
        raise CodifDataError(f"cannot read the business logs under {source}: {_first_line(exc)}") from None
    return connection


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _configure_s3(connection: Any, env: Mapping[str, str]) -> None:
    """Give DuckDB the S3 endpoint and keys of ``env`` (``AWS_*``, as the platform injects them; AWS without one)."""
    from codif.serve.business_log import s3_endpoint_from_env
    from sardonyx.storage.credentials import S3Credentials
    from sardonyx.web.preview import register_s3

    endpoint = s3_endpoint_from_env(env)
    credentials = S3Credentials(
        access_key_id=env.get("AWS_ACCESS_KEY_ID", ""),
        secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
        endpoint_url=endpoint or "https://s3.amazonaws.com",
        bucket="",
        region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
        session_token=env.get("AWS_SESSION_TOKEN") or None,
        path_style_access=endpoint is not None and env.get("AWS_PATH_STYLE_ACCESS", "true").lower() != "false",
    )
    register_s3(connection, credentials)


def _days(window: Window) -> list[date]:
    """The parameters of ``day BETWEEN ? AND ?``."""
    return [window.start, window.end]


def _level_of(code: str | None, level: Level, nomenclature: Nomenclature) -> str:
    if not code:
        return "(none)"
    if level == "subclass":
        return code
    try:
        return nomenclature.parent(code, level)
    except (KeyError, CodifDataError):
        return "(unknown)"


def code_counts(
    connection: Any, window: Window, level: Level, nomenclature: Nomenclature, threshold: float
) -> dict[str, tuple[int, int]]:
    """Per code at ``level``: (predictions whose top-1 code falls under it, of which coded automatically)."""
    rows = connection.execute(
        "SELECT code, count(*), count(*) FILTER (WHERE ic >= ?) FROM predictions WHERE day BETWEEN ? AND ? "
        "GROUP BY code",
        [threshold, *_days(window)],
    ).fetchall()
    counts: dict[str, tuple[int, int]] = {}
    for code, n, auto in rows:
        key = _level_of(code, level, nomenclature)
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + int(n), before[1] + int(auto))
    return counts


def ic_values(connection: Any, window: Window) -> np.ndarray:
    """The IC of every prediction of ``window``: float64 array."""
    column = connection.execute("SELECT ic FROM predictions WHERE day BETWEEN ? AND ?", _days(window)).fetchnumpy()
    return np.asarray(column["ic"], dtype=np.float64)


def distribution_drift(reference: Mapping[str, int], current: Mapping[str, int]) -> dict[str, Any]:
    """Distances and tests between two count distributions over categories (see :class:`Drift`).

    Raises:
        ValueError: a window has no observation.
    """
    from scipy.stats import chi2_contingency

    categories = sorted(set(reference) | set(current))
    ref = np.array([reference.get(c, 0) for c in categories], dtype=np.float64)
    cur = np.array([current.get(c, 0) for c in categories], dtype=np.float64)
    if ref.sum() == 0 or cur.sum() == 0:
        raise ValueError("both windows need predictions")
    p, q = ref / ref.sum(), cur / cur.sum()
    coefficient = float(np.sum(np.sqrt(p * q)))
    hellinger = math.sqrt(max(0.0, 1.0 - coefficient))
    ps = (ref + SMOOTHING) / (ref.sum() + SMOOTHING * len(categories))
    qs = (cur + SMOOTHING) / (cur.sum() + SMOOTHING * len(categories))
    chi2 = dof = p_value = None
    if len(categories) >= 2:
        test = chi2_contingency(np.vstack([ref, cur]), correction=False)
        chi2, dof, p_value = float(test.statistic), int(test.dof), float(test.pvalue)
    return {
        "hellinger": hellinger,
        "bhattacharyya": -math.log(coefficient) if coefficient > 0 else None,
        "kl_divergence": float(np.sum(qs * np.log(qs / ps))),
        "psi": float(np.sum((qs - ps) * np.log(qs / ps))),
        "chi2": chi2,
        "chi2_dof": dof,
        "chi2_p_value": p_value,
        "shares": dict(zip(categories, zip(p.tolist(), q.tolist(), strict=True), strict=True)),
    }


def drift_between(
    connection: Any,
    *,
    reference: Window,
    current: Window,
    level: Level,
    nomenclature: Nomenclature,
    threshold: float,
) -> Drift:
    """Compare ``current`` with ``reference`` (see :class:`Drift`).

    Raises:
        ValueError: a window has no prediction.
    """
    from scipy.stats import ks_2samp

    ref_counts = code_counts(connection, reference, level, nomenclature, threshold)
    cur_counts = code_counts(connection, current, level, nomenclature, threshold)
    stats = distribution_drift({k: v[0] for k, v in ref_counts.items()}, {k: v[0] for k, v in cur_counts.items()})
    ref_ic, cur_ic = ic_values(connection, reference), ic_values(connection, current)
    ks = ks_2samp(ref_ic, cur_ic)
    shares: dict[str, tuple[float, float]] = stats.pop("shares")
    moves = sorted(shares.items(), key=lambda item: -abs(item[1][1] - item[1][0]))[:5]
    return Drift(
        reference=str(reference),
        current=str(current),
        level=level,
        reference_n=len(ref_ic),
        current_n=len(cur_ic),
        ic_ks=float(ks.statistic),
        ic_ks_p_value=float(ks.pvalue),
        auto_rate_change=float(np.mean(cur_ic >= threshold) - np.mean(ref_ic >= threshold)),
        biggest_moves=[
            {"code": code, "label": _label(code, nomenclature), "reference_share": p, "current_share": q}
            for code, (p, q) in moves
        ],
        **stats,
    )


def _label(code: str, nomenclature: Nomenclature) -> str:
    try:
        return nomenclature.label(code)
    except (KeyError, CodifDataError):
        return ""


def data_days(connection: Any, source: str) -> tuple[date, date]:
    """First and last day with predictions in the logs read from ``source``.

    Raises:
        CodifDataError: the logs hold no prediction.
    """
    first, last = connection.execute("SELECT min(day), max(day) FROM predictions").fetchone()
    if first is None:
        raise CodifDataError(f"the business logs under {source} hold no prediction")
    return first, last


def default_windows(last: date, days: int = DEFAULT_WINDOW_DAYS) -> tuple[Window, Window]:
    """(reference, current): the ``days`` days ending on ``last``, and the ``days`` days before them."""
    current = Window(last - timedelta(days=days - 1), last)
    reference = Window(current.start - timedelta(days=days), current.start - timedelta(days=1))
    return reference, current


def build_report(
    connection: Any,
    nomenclature: Nomenclature,
    *,
    source: str,
    window: Window | None = None,
    reference: Window | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    level: Level = "section",
    min_auto_rate: float | None = None,
    max_hellinger: float | None = None,
) -> Report:
    """The monitoring report of ``window`` (default: the last ``DEFAULT_WINDOW_DAYS`` days with data), compared
    with ``reference`` (default: the as many days before it).

    Alerts: the window's auto-coding rate under ``min_auto_rate``, or the Hellinger distance of its codes to the
    reference over ``max_hellinger``.

    Raises:
        CodifDataError: no prediction at all, or none in ``window``; a threshold outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise CodifDataError(f"the threshold must be within [0, 1], not {threshold}")
    span = data_days(connection, source)
    default_reference, default_current = default_windows(span[1])
    if window is None:
        window = default_current
        reference = reference or default_reference
    elif reference is None:
        reference = Window(window.start - timedelta(days=window.days), window.start - timedelta(days=1))
    days = _days(window)
    n, auto, mean_ic = connection.execute(
        "SELECT count(*), count(*) FILTER (WHERE ic >= ?), avg(ic) FROM predictions WHERE day BETWEEN ? AND ?",
        [threshold, *days],
    ).fetchone()
    if not n:
        raise CodifDataError(
            f"no prediction in {window} (the business logs under {source} cover {span[0]} to {span[1]})"
        )
    daily = [
        {"day": day.isoformat(), "n": int(count), "auto_rate": rate, "mean_ic": ic, "latency_p50_ms": p50}
        for day, count, rate, ic, p50 in connection.execute(
            """SELECT day, count(*), avg(CAST(ic >= ? AS INTEGER)), avg(ic), quantile_cont(latency_ms, 0.5)
               FROM predictions WHERE day BETWEEN ? AND ? GROUP BY day ORDER BY day""",
            [threshold, *days],
        ).fetchall()
    ]
    histogram = [
        {"from": round(b / 10, 1), "to": round((b + 1) / 10, 1), "n": int(count)}
        for b, count in connection.execute(
            """SELECT b, count(ic) FROM range(10) t(b)
               LEFT JOIN (SELECT ic FROM predictions WHERE day BETWEEN ? AND ?)
               ON least(CAST(floor(ic * 10) AS BIGINT), 9) = b GROUP BY b ORDER BY b""",
            days,
        ).fetchall()
    ]
    counts = code_counts(connection, window, level, nomenclature, threshold)
    codes = [
        {"code": code, "label": _label(code, nomenclature), "n": total, "auto_rate": automatic / total}
        for code, (total, automatic) in sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    ]
    versions = dict(
        connection.execute(
            "SELECT model_version, count(*) FROM predictions WHERE day BETWEEN ? AND ? GROUP BY 1 ORDER BY 2 DESC",
            days,
        ).fetchall()
    )
    report = Report(
        source=source,
        window=str(window),
        threshold=threshold,
        level=level,
        n=int(n),
        auto_rate=int(auto) / int(n),
        mean_ic=float(mean_ic),
        model_versions={str(k): int(v) for k, v in versions.items()},
        daily=daily,
        ic_histogram=histogram,
        codes=codes,
        text=_text_statistics(connection, window),
        drift=None,
    )
    try:
        report.drift = drift_between(
            connection,
            reference=reference,
            current=window,
            level=level,
            nomenclature=nomenclature,
            threshold=threshold,
        )
    except ValueError:
        report.drift_note = f"no drift: the reference window {reference} has no prediction"
    report.alerts = _alerts(report, min_auto_rate, max_hellinger)
    return report


def _text_statistics(connection: Any, window: Window) -> dict[str, Any]:
    days = _days(window)
    mean_words, median_words, mean_chars = connection.execute(
        """SELECT avg(w), median(w), avg(length(description)) FROM (
               SELECT description, len(regexp_split_to_array(trim(description), '\\s+')) AS w
               FROM predictions WHERE day BETWEEN ? AND ?)""",
        days,
    ).fetchone()
    top = connection.execute(
        """SELECT lower(trim(description)) AS d, count(*) FROM predictions WHERE day BETWEEN ? AND ?
           GROUP BY d ORDER BY 2 DESC, d LIMIT ?""",
        [*days, TOP_DESCRIPTIONS],
    ).fetchall()
    return {
        "mean_words": float(mean_words or 0.0),
        "median_words": float(median_words or 0.0),
        "mean_characters": float(mean_chars or 0.0),
        "top_descriptions": [{"description": d, "n": int(c)} for d, c in top],
    }


def _alerts(report: Report, min_auto_rate: float | None, max_hellinger: float | None) -> list[str]:
    alerts = []
    if min_auto_rate is not None and report.auto_rate < min_auto_rate:
        alerts.append(
            f"auto-coding rate {report.auto_rate:.1%} at IC >= {report.threshold:g} is under {min_auto_rate:.1%} "
            f"in {report.window}"
        )
    if max_hellinger is not None and report.drift is not None and report.drift.hellinger > max_hellinger:
        alerts.append(
            f"{report.level} drift: Hellinger distance {report.drift.hellinger:.3f} between {report.drift.reference} "
            f"and {report.drift.current} is over {max_hellinger:g}"
        )
    return alerts


def level_or_error(level: str) -> Level:
    """``level`` as a NAF level name. Raises :class:`CodifDataError` for anything else."""
    from codif.nomenclature import LEVELS

    if level not in LEVELS:
        raise CodifDataError(
            f"unknown NAF level {level!r}", violations=[Violation("level", f"one of {', '.join(LEVELS)}")]
        )
    return level


def default_source(env: Mapping[str, str], prefix: str = "codif/logs") -> str | None:
    """Where ``codif serve`` uploads its business logs in the project bucket of ``env``, or None."""
    from codif.serve.business_log import default_bucket_from_env

    bucket = env.get("CODIF_SERVE_LOGS_BUCKET") or default_bucket_from_env(env)
    prefix = env.get("CODIF_SERVE_LOGS_PREFIX", prefix).strip("/")
    return f"s3://{bucket}/{prefix}/" if bucket else None


def render_html(report: Report | None, *, controls: Mapping[str, Any] | None = None, error: str | None = None) -> str:
    """The report as one self-contained HTML page (no script, no external asset; bars drawn in CSS and SVG).

    ``controls`` adds the dashboard's form (``window``, ``reference``, ``threshold``, ``level``, ``levels``,
    ``loaded_at``, ``refresh``, ``query``); ``error`` is shown above the report, or instead of it when ``report``
    is None.
    """
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    from codif import __version__

    environment = Environment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("monitor.html.j2")
    return template.render(
        report=report,
        controls=controls,
        error=error,
        version=__version__,
        max_daily=max((row["n"] for row in report.daily), default=1) or 1 if report else 1,
        max_bin=max((row["n"] for row in report.ic_histogram), default=1) or 1 if report else 1,
    )


def write_html(report: Report, target: str, env: Mapping[str, str]) -> str:
    """Write :func:`render_html` to a local path or to ``s3://bucket/key`` (credentials from ``env``); the target.

    Raises:
        CodifDataError: the file cannot be written, or S3 refuses it.
    """
    page = render_html(report).encode("utf-8")
    if target.startswith("s3://"):
        from codif.serve.business_log import s3_client_from_env

        bucket, _, key = target.removeprefix("s3://").partition("/")
        if not bucket or not key or key.endswith("/"):
            raise CodifDataError(f"--html {target}: expected s3://bucket/key.html")
        try:
            s3_client_from_env(env).put_object(Bucket=bucket, Key=key, Body=page, ContentType="text/html")
        except Exception as exc:  # botocore's errors have no common base worth naming here
            raise CodifDataError(f"cannot write {target}: {_first_line(exc)}") from None
        return target
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(page)
    except OSError as exc:
        raise CodifDataError(f"cannot write {target}: {exc}") from None
    return str(path)
