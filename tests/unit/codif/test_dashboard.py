"""codif dashboard on business logs written by the API's own writer: the page, its form, the JSON, refreshes,
bad parameters and the time before any log has arrived."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from codif.dashboard import Dashboard, create_app
from codif.nomenclature import Nomenclature

from .test_monitor import CURRENT, REFERENCE, write_logs


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    write_logs(folder, REFERENCE)
    return folder


def test_the_page_the_json_and_a_refresh(logs: Path, nomenclature: Nomenclature) -> None:
    now = [0.0]
    board = Dashboard(str(logs), {}, nomenclature, refresh_seconds=60, clock=lambda: now[0])
    with TestClient(create_app(board)) as client:
        page = client.get("/", params={"level": "division", "threshold": "0.5"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<option value="division" selected>division</option>' in page.text
        assert 'href="report.json?window=&amp;reference=&amp;threshold=0.5&amp;level=division"' in page.text
        first = client.get("/report.json").json()
        assert first["n"] == 4
        assert client.get("/health").json()["predictions"] == 4

        write_logs(logs, CURRENT, version="4")  # new files arrive
        assert client.get("/report.json").json()["n"] == 4  # not read again before refresh_seconds
        now[0] = 61.0
        again = client.get("/report.json", params={"window": "2026-11-08:2026-11-14"}).json()
        assert again["n"] == 4
        assert again["model_versions"] == {"4": 4}
        assert again["drift"]["reference"] == "2026-11-01:2026-11-07"
        assert client.get("/health").json() | {"read_at": None} == {
            "status": "ok",
            "source": str(logs),
            "predictions": 8,
            "read_at": None,
            "refresh_seconds": 60,
            "last_error": None,
        }


def test_bad_parameters_are_explained(logs: Path, nomenclature: Nomenclature) -> None:
    with TestClient(create_app(Dashboard(str(logs), {}, nomenclature))) as client:
        page = client.get("/", params={"window": "last week", "level": "division"})
        assert page.status_code == 400
        assert "invalid window &#39;last week&#39; · window: expected YYYY-MM-DD or FROM:TO" in page.text
        assert 'value="last week"' in page.text  # the form keeps what was typed
        problem = client.get("/report.json", params={"level": "sector"})
        assert problem.status_code == 400
        assert problem.headers["content-type"] == "application/problem+json"
        assert problem.json()["violations"][0]["path"] == "level"
        empty = client.get("/report.json", params={"window": "2020-01-01"})
        assert empty.status_code == 400
        assert "no prediction in 2020-01-01:2020-01-01" in empty.json()["detail"]
        assert client.get("/", params={"threshold": "2"}).status_code == 422


def test_before_any_log_the_page_says_so(tmp_path: Path, nomenclature: Nomenclature) -> None:
    (tmp_path / "logs").mkdir()
    now = [0.0]
    board = Dashboard(str(tmp_path / "logs"), {}, nomenclature, refresh_seconds=10, clock=lambda: now[0])
    with TestClient(create_app(board)) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "no business log file (*.jsonl) under" in page.text
        assert client.get("/report.json").status_code == 404
        health = client.get("/health").json()
        assert (health["status"], health["predictions"]) == ("degraded", 0)
        assert health["last_error"].startswith("no business log file")
        write_logs(tmp_path / "logs", REFERENCE)
        now[0] = 10.0
        assert client.get("/report.json").json()["n"] == 4
        assert client.get("/health").json()["status"] == "ok"
