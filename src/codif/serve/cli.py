"""``codif serve``: start the model API (uvicorn, one worker) on the model registered in MLflow."""

from __future__ import annotations

import gc
import logging
import os
from typing import Annotated, Any

import typer

_MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1, or CODIF_SERVE_HOST).", show_default=False)
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default 8000, or CODIF_SERVE_PORT).", show_default=False)
    ] = None,
    model_uri: Annotated[
        str | None,
        typer.Option(
            help="Model to serve: models:/<name>@<alias> (followed when the alias moves), models:/<name>/<version> "
            "or a local MLflow model directory. Default models:/codif@champion (CODIF_SERVE_MODEL_NAME, "
            "CODIF_SERVE_MODEL_ALIAS).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the codif model as a REST API (GET/POST /predict, /health, /docs), with business logs.

    The model comes from the MLflow server in MLFLOW_TRACKING_URI; the business logs go to the S3 bucket of the
    project (AWS_* variables, CODIF_SERVE_LOGS_BUCKET). Every setting: CODIF_SERVE_* variables (see
    codif.serve.settings).
    """
    from pydantic import ValidationError

    from codif.serve.settings import ServeSettings

    given: dict[str, Any] = {"host": host, "port": port, "model_uri": model_uri}
    try:
        # an empty option (`--model-uri=` rendered from an unset value) means unset, like an empty variable
        settings = ServeSettings(**{k: v for k, v in given.items() if v not in (None, "")})
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"error: {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # MLflow retries a failing server for minutes by default; at start-up and at each poll an unreachable
    # server should be reported in seconds (the poller retries anyway). Explicit settings win.
    for name, value in _MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from codif.serve.model_store import MlflowModelSource, ModelHolder, ModelLoadError

    source = MlflowModelSource()
    holder = ModelHolder(source, settings.resolved_model_uri, settings.poll_seconds)
    try:
        holder.load_initial()
    except ModelLoadError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        source.close()
        raise typer.Exit(1) from None

    import uvicorn

    from codif.serve.app import create_app
    from codif.serve.business_log import business_log_from_settings

    app = create_app(settings, holder, business_log_from_settings(settings, os.environ))
    # what start-up created (MLflow, pandas, the model: a few hundred thousand objects) lives as long as the
    # process: out of the cyclic garbage collector's sight, a full collection cannot pause a request for tens of ms
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            access_log=settings.access_log,
            log_level="info",
            timeout_graceful_shutdown=30,
        )
    finally:
        source.close()
