"""The FastAPI application of ``codif serve``: predictions, health, model reloads.

Endpoints (all documented in the OpenAPI schema at ``/openapi.json``, browsable at ``/docs``):

- ``GET /predict?description=...&type_form=&nature=&surface=&event=&cj=&nb_echos_max=5&prob_min=0.01``: one
  form; ``description`` is the only required parameter.
- ``POST /predict?nb_echos_max=5&prob_min=0.01`` with ``{"forms": [{"description": ...}, ...]}``: a batch.
- ``GET /health``: the model version served, the reloader and the business logs (never authenticated).
- ``POST /admin/reload[?wait=seconds]``: check the registry alias now and load a new version in the background.

Every answer gives the top candidates (code, NAF label, probability), IC = p1 - p2 and the model version; every
prediction is written to the business logs (:mod:`codif.serve.business_log`). Errors are RFC 7807 problem
details (``application/problem+json``): 422 names each invalid field (``forms[3].type_form`` in a batch), 401
when authentication is on and missing or wrong. A form whose best probability is under ``prob_min`` is answered
with no candidate and a ``message`` saying that probability.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from starlette.exceptions import HTTPException as StarletteHTTPException

from codif import __version__
from codif.forms import Form, Prediction
from codif.serve.business_log import BusinessLog
from codif.serve.model_store import LoadedModel, ModelHolder
from codif.serve.schemas import (
    BatchIn,
    BatchOut,
    PredictParams,
    Problem,
    SingleOut,
    SingleQuery,
)
from codif.serve.settings import ServeSettings
from sardonyx.errors import SardonyxError, Unauthorized, Violation

logger = logging.getLogger("codif.serve")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PROBLEM = "application/problem+json"


class InvalidForms(SardonyxError):
    """Input that breaks the API's rules (every violation listed, batch forms by index)."""

    status = 422
    reason = "invalid-forms"
    title = "Invalid forms"


def _problem_response(error: SardonyxError, request: Request) -> JSONResponse:
    return JSONResponse(
        error.to_problem(instance=request.url.path),
        status_code=error.status,
        media_type=_PROBLEM,
        headers=error.headers or None,
    )


def _violations(errors: Sequence[Any]) -> list[Violation]:
    """pydantic errors -> violations with paths such as ``type_form`` or ``forms[3].event``."""
    violations = []
    for error in errors:
        loc = list(error.get("loc", ()))
        if loc and loc[0] in ("query", "body", "path", "header"):
            loc = loc[1:]
        path = ""
        for part in loc:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        kind = error.get("type", "")
        if kind == "value_error" and "error" in error.get("ctx", {}):
            reason = str(error["ctx"]["error"])
        elif kind == "missing":
            reason = "this field is required"
        elif kind == "extra_forbidden":
            reason = "unknown field"
        elif kind == "json_invalid":
            reason = f"the body is not valid JSON: {error.get('ctx', {}).get('error', error.get('msg'))}"
        else:
            reason = str(error.get("msg", "invalid value"))
        violations.append(Violation(path, reason))
    return violations


def _cut(raw: Prediction, nb_echos_max: int, prob_min: float) -> Prediction:
    """At most ``nb_echos_max`` candidates, none under ``prob_min`` (maybe none); IC stays the model's p1 - p2."""
    kept = tuple(c for c in raw.candidates[:nb_echos_max] if c.probability >= prob_min)
    return Prediction(kept, raw.ic)


def _authenticator(settings: ServeSettings) -> Callable[[Request], None]:
    """The dependency checking ``Authorization`` (bearer token and/or HTTP basic, per ``settings``)."""
    token = settings.auth_token.encode() if settings.auth_token else None
    basic = (
        f"{settings.auth_username}:{settings.auth_password}".encode()
        if settings.auth_username is not None and settings.auth_password is not None
        else None
    )
    accepted = " or ".join(
        name for name, on in (("Bearer <token>", token), ("Basic <user:password>", basic)) if on is not None
    )
    challenge = 'Bearer realm="codif"' if token is not None else 'Basic realm="codif"'

    def authenticate(request: Request) -> None:
        if token is None and basic is None:
            return
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        if token is not None and scheme == "bearer" and secrets.compare_digest(credentials.strip().encode(), token):
            return
        if basic is not None and scheme == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True)
            except (binascii.Error, ValueError):
                decoded = b""
            if secrets.compare_digest(decoded, basic):
                return
        raise Unauthorized(f"authentication required: send Authorization: {accepted}", challenge=challenge)

    return authenticate


_PROCESS_ID = secrets.token_hex(6)
_SEQUENCE = itertools.count(1)


def _request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` when it is a sane identifier, else ``<process random id>-<sequence>``
    (unique across processes and restarts, and cheaper than a UUID4's system call per request)."""
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return f"{_PROCESS_ID}-{next(_SEQUENCE):x}"


def _install_error_handlers(app: FastAPI) -> None:
    """Every error as RFC 7807 problem details."""

    @app.exception_handler(SardonyxError)
    async def sardonyx_error(request: Request, exc: SardonyxError) -> JSONResponse:
        if exc.status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, exc.message)
        return _problem_response(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route on the path; list every route's
            methods = sorted(
                {
                    m
                    for r in app.routes
                    if isinstance(r, APIRoute) and r.path == request.url.path
                    for m in r.methods or ()
                }
            )
            headers["Allow"] = ", ".join(methods)
        problem = {
            "type": f"https://sardonyx.dev/problems/http-{exc.status_code}",
            "title": HTTPStatus(exc.status_code).phrase,
            "status": exc.status_code,
            "detail": str(exc.detail),
            "instance": request.url.path,
        }
        return JSONResponse(problem, status_code=exc.status_code, media_type=_PROBLEM, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        violations = _violations(exc.errors())
        fields = ", ".join(sorted({v.path or "(body)" for v in violations}))
        return _problem_response(InvalidForms(f"invalid input: {fields}", violations=violations), request)


class _Predictor:
    """Runs the model on validated forms, cuts the answers, writes the business log."""

    def __init__(self, business_log: BusinessLog) -> None:
        self._log = business_log

    def __call__(
        self, model: LoadedModel, forms: list[Form], params: PredictParams, rid: str, started: float
    ) -> list[tuple[Prediction, str | None]]:
        """The answers, each with a message when no candidate reaches ``prob_min``.

        Such a form is answered (no candidate, its IC, the message), not refused: Insee's 2024 API answered 400
        there, its current one keeps the candidates above ``prob_min`` whatever their number; with the real model
        about 2 % of real forms have a best probability under the default 0.01, and a valid form, alone or in a
        batch, must not make an error.
        """
        # ask for at least 2 candidates and no threshold, so that IC = p1 - p2 is the model's, whatever the
        # caller's nb_echos_max and prob_min (Insee's API does the same: k=2 when nb_echos_max is 1)
        try:
            raw = model.coder.predict_forms(forms, k=max(params.nb_echos_max, 2), prob_min=0.0)
        except SardonyxError as exc:  # the model refuses some input: that is the caller's error, not ours
            if exc.status >= 500:
                raise
            single = len(forms) == 1
            violations = [
                Violation(v.path.removeprefix("forms[0].") if single else v.path, v.reason) for v in exc.violations
            ]
            raise InvalidForms(exc.message, violations=violations) from exc
        answers: list[Prediction] = []
        messages: list[str | None] = []
        for prediction in raw:
            kept = _cut(prediction, params.nb_echos_max, params.prob_min)
            best = prediction.candidates[0].probability if prediction.candidates else 0.0
            message = None
            if not kept.candidates:
                message = f"no candidate reaches prob_min={params.prob_min:g}: the best probability is {best:.4f}"
            answers.append(kept)
            messages.append(message)
        self._log.record(
            request_id=rid,
            model_name=model.ref.name,
            model_version=model.ref.version,
            nb_echos_max=params.nb_echos_max,
            prob_min=params.prob_min,
            forms=forms,
            predictions=answers,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        return list(zip(answers, messages, strict=True))


def _prediction_json(prediction: Prediction, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "candidates": [{"code": c.code, "label": c.label, "probability": c.probability} for c in prediction.candidates],
        "ic": prediction.ic,
    }
    if message is not None:
        body["message"] = message
    return body


def _model_info(model: LoadedModel) -> dict[str, str]:
    return {"name": model.ref.name, "version": model.ref.version}


def _json_response(body: dict[str, Any], rid: str) -> Response:
    # pydantic-core's serializer (Rust) is about ten times faster than json.dumps on a batch's 6,000 small objects
    return Response(to_json(body), media_type="application/json", headers={"X-Request-ID": rid})


_M = TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], where: str, parse: Callable[[], _M]) -> _M:
    """Run ``parse``; pydantic errors become the usual 422 (locations prefixed with ``where``)."""
    try:
        return parse()
    except ValidationError as exc:
        errors = [dict(e) | {"loc": (where, *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters describing ``model``'s fields (nullable strings become plain strings)."""
    schema = model.model_json_schema()
    parameters = []
    for name, field_schema in schema["properties"].items():
        prop = dict(field_schema)
        variants = prop.pop("anyOf", None)
        if variants:
            prop.update(next(v for v in variants if v.get("type") != "null"))
            prop.pop("default", None)
        prop.pop("title", None)
        description = prop.pop("description", "")
        examples = prop.pop("examples", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", ()),
            "description": description,
            "schema": prop,
        }
        if examples:
            parameter["example"] = examples[0]
        parameters.append(parameter)
    return parameters


def _openapi(
    parameters: list[dict[str, Any]],
    body: type[BaseModel] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    extra: dict[str, Any] = {"parameters": parameters}
    if body is not None:
        schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
        definitions = schema.pop("$defs", {})
        if definitions:
            schema = _inline(schema, definitions)
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if security is not None:
        extra["security"] = security
    return extra


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` with every local ``$ref`` replaced by its definition (the body schema stands alone)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _inline(definitions[ref.rsplit("/", 1)[1]], definitions)
        return {k: _inline(v, definitions) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, definitions) for v in schema]
    return schema


def _problem(description: str) -> dict[str, Any]:
    """An OpenAPI response documented as RFC 7807 problem details."""
    return {"description": description, "content": {_PROBLEM: {"schema": Problem.model_json_schema()}}}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Authentication is on and the credentials are missing or wrong."),
    422: _problem("Invalid input; every invalid field is named."),
}


def create_app(settings: ServeSettings, holder: ModelHolder, business_log: BusinessLog) -> FastAPI:
    """The API serving ``holder``'s model (already loaded) and writing to ``business_log``.

    The lifespan starts the alias poller and the business log threads and stops them at shutdown.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        business_log.start()
        holder.start()
        try:
            yield
        finally:
            holder.stop()
            business_log.stop()

    app = FastAPI(
        title="codif API",
        version=__version__,
        summary="NACE/NAF rév. 2 coding of business activity descriptions (Sirene forms).",
        description=__doc__,
        lifespan=lifespan,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    _install_error_handlers(app)
    authenticate = _authenticator(settings) if settings.auth_enabled else None
    security: list[dict[str, list[str]]] | None = None
    if authenticate is not None:
        schemes = {"bearer": settings.auth_token, "basic": settings.auth_username}
        security = [{name: []} for name, on in schemes.items() if on]
        _document_security(app, [name for name, on in schemes.items() if on])
    _add_predict_routes(app, holder, _Predictor(business_log), authenticate, security)
    _add_operation_routes(app, holder, business_log, [Depends(authenticate)] if authenticate is not None else [])
    return app


def _document_security(app: FastAPI, schemes: list[str]) -> None:
    """Declare the bearer and/or basic security schemes in the OpenAPI components."""
    known = {"bearer": {"type": "http", "scheme": "bearer"}, "basic": {"type": "http", "scheme": "basic"}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {name: known[name] for name in schemes}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_predict_routes(
    app: FastAPI,
    holder: ModelHolder,
    predict: _Predictor,
    authenticate: Callable[[Request], None] | None,
    security: list[dict[str, list[str]]] | None,
) -> None:
    # The two /predict routes parse their input themselves (one pydantic-core call on the query string or the
    # raw JSON body): FastAPI's per-parameter machinery costs about 0.25 ms per request, a tenth of the p50
    # budget. Their OpenAPI description is generated from the same models (openapi_extra).
    @app.get(
        "/predict",
        response_model=SingleOut,
        responses=_ERRORS,
        summary="Code one form",
        tags=["predict"],
        openapi_extra=_openapi(parameters=_query_parameters(SingleQuery), security=security),
    )
    async def predict_one(request: Request) -> Response:
        """Top candidates, IC and model version for one form (``description`` required, side fields optional)."""
        started = time.perf_counter()
        if authenticate is not None:
            authenticate(request)
        query = _parse(SingleQuery, "query", lambda: SingleQuery.model_validate(dict(request.query_params)))
        model = holder.current
        rid = _request_id(request)
        ((answer, message),) = predict(model, [query.to_form()], query, rid, started)
        body = {"request_id": rid, "model": _model_info(model), **_prediction_json(answer, message)}
        return _json_response(body, rid)

    @app.post(
        "/predict",
        response_model=BatchOut,
        responses=_ERRORS,
        summary="Code a batch of forms",
        tags=["predict"],
        openapi_extra=_openapi(
            parameters=_query_parameters(PredictParams),
            body=BatchIn,
            security=security,
        ),
    )
    async def predict_batch(request: Request) -> Response:
        """One prediction per form, in the order sent (at most ``MAX_BATCH_FORMS`` forms)."""
        started = time.perf_counter()
        if authenticate is not None:
            authenticate(request)
        params = _parse(PredictParams, "query", lambda: PredictParams.model_validate(dict(request.query_params)))
        raw = await request.body()
        batch = _parse(BatchIn, "body", lambda: BatchIn.model_validate_json(raw))
        model = holder.current
        rid = _request_id(request)
        answers = predict(model, [f.to_form() for f in batch.forms], params, rid, started)
        predictions = [_prediction_json(answer, message) for answer, message in answers]
        body = {"request_id": rid, "model": _model_info(model), "predictions": predictions}
        return _json_response(body, rid)


def _add_operation_routes(app: FastAPI, holder: ModelHolder, business_log: BusinessLog, protected: list[Any]) -> None:
    @app.get("/health", summary="Model served, reloader and business logs", tags=["operations"])
    async def health() -> dict[str, Any]:
        """Always answered (no authentication): ``status`` is ``degraded`` when the last reload failed, or the
        last business log upload, or a business log write; the model keeps answering either way."""
        state = holder.status()
        logs = business_log.status()
        degraded = (
            state["reload"]["last_failure"] is not None
            or logs["last_upload_error"] is not None
            or logs["last_write_error"] is not None
        )
        return {"status": "degraded" if degraded else "ok", **state, "business_logs": logs}

    @app.post(
        "/admin/reload",
        dependencies=protected,
        responses={
            401: _ERRORS[401],
            422: _ERRORS[422],
            202: {"description": "The check runs in the background (wait=0, or not over after wait seconds)."},
        },
        summary="Check the registry alias now and load a new version",
        tags=["operations"],
    )
    async def reload(
        response: Response,
        wait: Annotated[
            float, Query(ge=0, le=300, description="Seconds to wait for the check (and load) to finish.")
        ] = 0,
    ) -> dict[str, Any]:
        """The new version loads in the background and replaces the old one atomically; if it fails to load the
        old one keeps serving and the failure is reported here and in /health."""
        state = await asyncio.to_thread(holder.request_reload, wait)
        if wait == 0 or state["reload"]["in_progress"]:
            response.status_code = 202  # accepted: the check runs in the background
        return state
