"""The label-studio chart on the platform: a real Label Studio in its own environment, the account made from the
launch values, a NAF coding project holding the 50 real Sirene examples as tasks, through Label Studio's REST API."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from codif.forms import Candidate, Form, Prediction
from codif.serve.business_log import BusinessLog
from tests.integration.platform.conftest import RunningPlatform

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LABEL_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <TextArea name="code" toName="text" placeholder="NAF subclass, e.g. 4791A" maxSubmissions="1"/>
</View>"""


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


def _codif(*args: str, password: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABEL_STUDIO_"))}
    env["LABEL_STUDIO_PASSWORD"] = password  # as a job would get it, not on the command line
    command = [str(Path(sys.executable).parent / "codif"), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_label_studio_from_the_catalog_holds_a_naf_coding_project(
    platform: RunningPlatform, shared_dir: Path, tmp_path: Path
) -> None:
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

        # codif annotate: recent predictions of the business logs in, the experts' codes out
        examples = [(t["text"], t["expected"]) for t in tasks]
        log = BusinessLog(tmp_path / "logs", None, clock=lambda: datetime(2026, 11, 20, 9, tzinfo=UTC).timestamp())
        log.start()
        for number, (text, code) in enumerate(examples):
            prediction = Prediction((Candidate(code, "label", 0.9),), 0.8)
            log.record(
                request_id=str(number), model_name="codif", model_version="7", nb_echos_max=1, prob_min=0.01,
                forms=[Form(text)], predictions=[prediction], latency_ms=2.0,
            )  # fmt: skip
        log.stop()
        common = ["--url", base, "--email", "ann@localhost", "--project", "NAF pilot"]
        pushed = _codif("annotate", "push", str(tmp_path / "logs"), *common, "--sample", "20", password=password,
                        cwd=tmp_path)  # fmt: skip
        assert pushed.returncode == 0, pushed.stderr
        assert "20 tasks sent to 'NAF pilot'" in " ".join(pushed.stderr.split())
        again = _codif("annotate", "push", str(tmp_path / "logs"), *common, "--sample", "20", password=password,
                       cwd=tmp_path)  # fmt: skip
        said = " ".join(again.stderr.split())
        assert "0 tasks sent to 'NAF pilot'" in said and "20 already there" in said
        pilot = next(p for p in session.get("/api/projects").json()["results"] if p["title"] == "NAF pilot")
        pilot_tasks = session.get("/api/tasks", params={"project": pilot["id"], "page_size": 100}).json()["tasks"]
        assert len(pilot_tasks) == 20
        for task, code in zip(pilot_tasks[:2], ["47.91a", "XXXXX"], strict=True):
            value = {"text": [code]}
            result = [{"from_name": "code", "to_name": "text", "type": "textarea", "value": value}]
            made = session.post(f"/api/tasks/{task['id']}/annotations", json={"result": result})
            assert made.status_code == 201, made.text
        pulled = _codif("annotate", "pull", *common, "--out", str(tmp_path / "gold.csv"),
                        "--data-dir", str(shared_dir / "data"), password=password, cwd=tmp_path)  # fmt: skip
        assert pulled.returncode == 0, pulled.stderr
        assert "2 annotated forms written" in " ".join(pulled.stderr.split())
        with (tmp_path / "gold.csv").open(encoding="utf-8") as handle:
            gold = list(csv.DictReader(handle))
        assert sorted(row["label"] for row in gold) == ["4791A", "XXXXX"]
        assert {row["text"] for row in gold} == {pilot_tasks[0]["data"]["text"], pilot_tasks[1]["data"]["text"]}
        wrong = _codif("annotate", "pull", *common, "--out", str(tmp_path / "x.csv"), password="nope", cwd=tmp_path)
        assert wrong.returncode == 1
        assert "refused ann@localhost: wrong e-mail or password" in " ".join(wrong.stderr.split())
    finally:
        session.close()
