"""The one place where tests get an HTTP client of a platform app: the Host the request guard accepts
(``127.0.0.1:<port>``) and the platform's API token (``Authorization: Bearer``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sardonyx.auth import auth_headers
from sardonyx.platform import Platform


def platform_test_client(app: FastAPI, platform: Platform, *, token: bool = True, **options: Any) -> TestClient:
    """A ``TestClient`` of ``app`` (serving ``platform``) as the CLI calls it; ``token=False``: anonymous."""
    headers = auth_headers(platform.settings.data_dir) if token else {}
    base_url = f"http://127.0.0.1:{platform.settings.port}"
    return TestClient(app, base_url=base_url, headers=headers, **options)
