"""Property-based test of the published OpenAPI schema (schemathesis): no input makes the API answer 500,
every answer matches the documented status codes, content types and schemas."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from codif.serve.app import create_app
from codif.serve.business_log import BusinessLog
from codif.serve.model_store import ModelHolder
from codif.serve.settings import ServeSettings

from .conftest import FakeCoder, FakeSource

_LOGS = Path(tempfile.mkdtemp(prefix="codif-serve-schemathesis-"))
_holder = ModelHolder(FakeSource({"1": FakeCoder()}), "models:/codif@champion", poll_seconds=0)
_holder.load_initial()
_app = create_app(ServeSettings(poll_seconds=0, logs_dir=_LOGS), _holder, BusinessLog(_LOGS, None))
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate()
