"""RFC 7807 problem details for every error: one handler per kind, all rendering ``application/problem+json``.

Expected errors (``SardonyxError``) log one line; request validation errors become 400 ``bad-request`` problems
with every violation (Onyxia answers 400, not FastAPI's 422); HTTP errors from routing (404, 405) keep their
status; anything else is a bug: logged with its traceback, answered with a 500 problem that reveals nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sardonyx.errors import BadRequest, SardonyxError, Violation

log = logging.getLogger("sardonyx.api")

PROBLEM_JSON = "application/problem+json"


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(problem, status_code=int(problem["status"]), media_type=PROBLEM_JSON, headers=headers)


async def sardonyx_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, SardonyxError):  # pragma: no cover - registered for this class only
        raise error
    if error.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, error.message)
    else:
        log.info("%s %s: %s (%s)", request.method, request.url.path, error.message, error.reason)
    return problem_response(error.to_problem(instance=request.url.path), headers=error.headers or None)


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):  # pragma: no cover - registered for this class only
        raise error
    violations = []
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path", "header")]
        violations.append(Violation(".".join(location), str(problem.get("msg", "invalid"))))
    bad = BadRequest("the request is not valid", violations=violations)
    return await sardonyx_error(request, bad)


async def http_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, StarletteHTTPException):  # pragma: no cover - registered for this class only
        raise error
    problem = {
        "type": "about:blank",
        "title": str(error.detail),
        "status": error.status_code,
        "detail": str(error.detail),
        "instance": request.url.path,
    }
    return problem_response(problem, headers=dict(error.headers) if error.headers else None)


async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=error)
    problem = SardonyxError("an unexpected error happened; the platform log has the details").to_problem(
        instance=request.url.path
    )
    return problem_response(problem)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(SardonyxError, sardonyx_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
