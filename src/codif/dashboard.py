"""``codif dashboard``: the monitoring report as a web page that stays current (the monitor stage's dashboard
service, launched from the catalog as ``codif-dashboard``).

Endpoints:

- ``GET /?window=FROM:TO&reference=FROM:TO&threshold=0.8&level=section``: the report of :mod:`codif.monitor` as
  HTML, with a form to change the window, the reference, the IC threshold and the NAF level (no script);
- ``GET /report.json`` with the same parameters: the report as JSON;
- ``GET /health``: always 200 once started; says how many predictions were read, when, and the last read error.

The business logs are read again when the last read is older than ``refresh_seconds`` (a read of 190,000 lines
takes about 3 s), at the next request; a read that fails keeps the previous data and is reported. Bad parameters
answer 400 (the page shows the problem, the JSON is RFC 7807 problem details); before any business log has
arrived, the page says so (200) and the JSON answers 404.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from codif.monitor import DEFAULT_THRESHOLD, Report, Window, build_report, connect, level_or_error, render_html
from sardonyx.errors import ErrorReport, SardonyxError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from codif.nomenclature import Nomenclature


@dataclass
class _Loaded:
    connection: Any
    at: datetime
    monotonic: float
    predictions: int


class Dashboard:
    """The business logs of ``source``, read at most every ``refresh_seconds``, and the reports made from them."""

    def __init__(
        self,
        source: str,
        env: Mapping[str, str],
        nomenclature: Nomenclature,
        *,
        refresh_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.refresh_seconds = refresh_seconds
        self._env = dict(env)
        self._nomenclature = nomenclature
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._last_error: str | None = None
        self._last_attempt: float | None = None

    def _fresh(self) -> _Loaded | None:
        """The data, read again when it is older than ``refresh_seconds`` (one reader at a time)."""
        with self._lock:
            now = self._clock()
            if self._last_attempt is None or now - self._last_attempt >= self.refresh_seconds:
                self._last_attempt = now
                try:
                    connection = connect(self.source, self._env)
                    (count,) = connection.execute("SELECT count(*) FROM predictions").fetchone()
                    self._loaded = _Loaded(connection, datetime.now(UTC), now, int(count))
                    self._last_error = None
                except SardonyxError as exc:
                    self._last_error = exc.message
            return self._loaded

    def report(
        self, *, window: str = "", reference: str = "", threshold: float = DEFAULT_THRESHOLD, level: str = "section"
    ) -> Report:
        """The report for these parameters (strings as the form sends them; empty: the defaults).

        Raises:
            CodifDataError: a bad parameter, or no prediction in the window.
            MissingDataError: no business logs could be read yet (the message says why).
        """
        from codif.errors import MissingDataError

        chosen_level = level_or_error(level)
        current = Window.parse(window, option="window") if window.strip() else None
        before = Window.parse(reference, option="reference") if reference.strip() else None
        loaded = self._fresh()
        if loaded is None:
            raise MissingDataError(self._last_error or f"no business logs read yet from {self.source}")
        return build_report(
            loaded.connection.cursor(),  # one cursor per request: DuckDB connections are not shared across threads
            self._nomenclature,
            source=self.source,
            window=current,
            reference=before,
            threshold=threshold,
            level=chosen_level,
        )

    def status(self) -> dict[str, Any]:
        loaded = self._fresh()
        return {
            "status": "ok" if loaded is not None and self._last_error is None else "degraded",
            "source": self.source,
            "predictions": loaded.predictions if loaded else 0,
            "read_at": loaded.at.isoformat() if loaded else None,
            "refresh_seconds": self.refresh_seconds,
            "last_error": self._last_error,
        }

    def read_at(self) -> str:
        loaded = self._loaded
        return loaded.at.strftime("%Y-%m-%d %H:%M:%S UTC") if loaded else "never"


def create_app(dashboard: Dashboard) -> FastAPI:
    """The dashboard's FastAPI application."""
    from fastapi import FastAPI, Query
    from fastapi.responses import HTMLResponse, JSONResponse

    from codif import __version__
    from codif.errors import MissingDataError
    from codif.nomenclature import LEVELS

    app = FastAPI(title="codif dashboard", version=__version__, summary="Monitoring of the codif model API.")

    Window_ = Query("", description="Days reported, FROM:TO or one day (empty: the last 7 days with data).")
    Reference = Query("", description="Days compared with (empty: as many days just before the window).")
    Threshold = Query(DEFAULT_THRESHOLD, ge=0.0, le=1.0, description="IC from which a form is coded automatically.")
    Level = Query("section", description="NAF level of the codes and the drift: section ... subclass.")

    @app.get("/", response_class=HTMLResponse, summary="The monitoring report, as a page")
    def page(
        window: str = Window_, reference: str = Reference, threshold: float = Threshold, level: str = Level
    ) -> HTMLResponse:
        parameters = {"window": window, "reference": reference, "threshold": f"{threshold:g}", "level": level}
        controls = {
            **parameters,
            "levels": LEVELS,
            "refresh": f"{dashboard.refresh_seconds:g}",
            "query": "?" + urlencode(parameters),
        }
        report: Report | None = None
        error, status = None, 200
        try:
            report = dashboard.report(window=window, reference=reference, threshold=threshold, level=level)
        except SardonyxError as exc:
            shown = ErrorReport.of(exc)
            error = " · ".join([shown.message, *shown.lines])
            status = 200 if isinstance(exc, MissingDataError) else exc.status  # no logs yet: nothing is wrong
        controls["loaded_at"] = dashboard.read_at()  # after the report: it may have read the logs again
        return HTMLResponse(render_html(report, controls=controls, error=error), status_code=status)

    @app.get("/report.json", summary="The monitoring report, as JSON")
    def report_json(
        window: str = Window_, reference: str = Reference, threshold: float = Threshold, level: str = Level
    ) -> JSONResponse:
        try:
            report = dashboard.report(window=window, reference=reference, threshold=threshold, level=level)
        except SardonyxError as exc:
            problem = exc.to_problem(instance="/report.json")
            return JSONResponse(problem, status_code=exc.status, media_type="application/problem+json")
        return JSONResponse(report.as_dict())

    @app.get("/health", summary="What was read, when, and the last read error")
    def health() -> dict[str, Any]:
        return dashboard.status()

    return app
