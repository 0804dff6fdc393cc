"""The label-studio chart on the platform: a real Label Studio in its own environment, the account made from the
launch values, a NAF coding project holding the 50 real Sirene examples as tasks, through Label Studio's REST API."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.platform.conftest import RunningPlatform, start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LABEL_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <TextArea name="code" toName="text" placeholder="NAF subclass, e.g. 4791A" maxSubmissions="1"/>
</View>"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("platform"))
    try:
        yield running
    finally:
        stop_platform(running)


def _session(base: str, email: str, password: str) -> httpx.Client:
    """A client logged in through Label Studio's login form (CSRF token included): its session cookie."""
    client = httpx.Client(base_url=base, trust_env=False, follow_redirects=True, timeout=60)
    form = client.get("/user/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text[-2000:]
    client.post(
        "/user/login/",
        data={"email": email, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{base}/user/login/"},
    )
    return client


def test_label_studio_from_the_catalog_holds_a_naf_coding_project(platform: RunningPlatform, shared_dir: Path) -> None:
    account = "labelStudio.username=ann@localhost"
    launched = platform.cli("launch", "label-studio", "--name", "annotation", "--set", account, timeout=1800)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    found = re.search(r"URL:\s+(\S+)", launched.stdout)
    assert found, launched.stdout
    base = found.group(1).rstrip("/")
    with platform.client() as client:
        password = client.resolve("annotation")["env"]["security.password"]
    assert password and password != "changeme"  # a one-time password, generated for this launch

    stranger = _session(base, "ann@localhost", "not-the-password")
    try:
        assert stranger.get("/api/projects").status_code == 401
    finally:
        stranger.close()
    session = _session(base, "ann@localhost", password)
    try:
        project = session.post("/api/projects", json={"title": "NAF coding", "label_config": LABEL_CONFIG})
        assert project.status_code == 201, project.text
        project_id = project.json()["id"]
        with (shared_dir / "data" / "labeled" / "sirene_examples_50.csv").open(encoding="utf-8") as handle:
            tasks = [{"text": row["text_description"], "expected": row["code"]} for row in csv.DictReader(handle)]
        imported = session.post(f"/api/projects/{project_id}/import", json=tasks)
        assert imported.status_code == 201, imported.text
        assert imported.json()["task_count"] == 50
        listed = session.get("/api/tasks", params={"project": project_id, "page_size": 100}).json()
        assert sorted(t["data"]["text"] for t in listed["tasks"]) == sorted(t["text"] for t in tasks)
    finally:
        session.close()
