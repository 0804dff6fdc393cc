"""A safe, quick start (issue 10), on a real platform started with ``sardonyx up``: the login link it prints,
the API token in the data directory, a foreign Host refused, and a catalog that cannot load leaving it up."""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path

import httpx
import pytest

from sardonyx.auth import api_token_path, auth_headers
from tests.integration.platform.conftest import platform_env, start_platform, stop_platform

pytestmark = pytest.mark.integration


def test_up_prints_a_login_link_and_survives_a_broken_catalog(tmp_path: Path) -> None:
    plain_file = tmp_path / "not-a-catalog.txt"
    plain_file.write_text("not a catalog")
    catalogs = tmp_path / "catalogs.json"
    catalogs.write_text(json.dumps({"catalogs": [{"id": "broken", "location": str(plain_file)}]}))
    data_dir = tmp_path / "data"
    env = platform_env(data_dir) | {"SARDONYX_CATALOGS_FILE": str(catalogs)}
    begin = time.monotonic()
    platform = start_platform(data_dir, env)
    try:
        up_seconds = time.monotonic() - begin
        assert up_seconds < 30, up_seconds  # no 60 s wait for a catalog that will not load
        up = platform.cli("up")  # again: finds it running, prints a new link
        link = re.search(r"Web UI:\s+(http://127\.0\.0\.1:\d+/login\?code=\S+)", up.stdout)
        assert link, up.stdout
        status = platform.cli("status")
        assert status.returncode == 0 and "catalog broken: not loaded" in status.stdout, status.stdout
        assert "neither a folder nor a Helm repository" in status.stdout
        health = httpx.get(f"{platform.url}/public/healthcheck", timeout=10)
        assert health.status_code == 200 and health.json()["failedCatalogs"].keys() == {"broken"}

        token_file = api_token_path(data_dir)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        anonymous = httpx.get(f"{platform.url}/my-lab/services", timeout=10)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
        assert httpx.get(f"{platform.url}/my-lab/services", headers=auth_headers(data_dir)).status_code == 200
        rebinding = httpx.get(f"{platform.url}/account/storage", headers={"Host": "evil.example:8420"})
        assert rebinding.status_code == 421

        with httpx.Client(base_url=platform.url, timeout=10) as browser:
            page = browser.get(link.group(1).removeprefix(platform.url))
            code = re.search(r'name="code" value="([^"]+)"', page.text)
            assert page.status_code == 200 and code
            answer = browser.post("/login", data={"code": code.group(1)}, headers={"Origin": platform.url})
            assert answer.status_code == 303 and "HttpOnly" in answer.headers["set-cookie"]
            assert browser.get("/my-services").status_code == 200  # the session cookie

        time.sleep(3.5)  # attempts at about 0, 1 and 3 s
        log = (data_dir / "platform.log").read_text()
        attempts = [line for line in log.splitlines() if "catalog broken did not load" in line]
        assert len(attempts) >= 2 and "(attempt 1)" in attempts[0] and "next attempt in 1 s" in attempts[0]
        assert "(attempt 2)" in attempts[1] and "next attempt in 2 s" in attempts[1]
        assert "Traceback" not in log and len([line for line in log.splitlines() if " ERROR " in line]) == 0
    finally:
        stop_platform(platform)
