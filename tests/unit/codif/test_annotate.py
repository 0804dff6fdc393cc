"""codif annotate against a fake Label Studio (its REST API as the real one answers it): the sample and its
pre-annotations, nothing sent twice, a wrong password, and annotations read back as a labelled CSV."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from codif.annotate import LabelStudio, LabelStudioError, annotated_rows, push, sample_tasks, write_rows
from codif.data import read_labelled_forms
from codif.monitor import Window, connect
from codif.nomenclature import UNCLASSIFIABLE, Nomenclature

from .test_monitor import CURRENT, REFERENCE, write_logs


class FakeLabelStudio:
    """Login form with a CSRF token, session cookie, projects, tasks, import and export."""

    def __init__(self, email: str, password: str) -> None:
        self.account = (email, password)
        self.projects: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:  # noqa: PLR0911 - one answer per route
        path, method = request.url.path, request.method
        if path == "/user/login/" and method == "GET":
            return httpx.Response(200, text='<input name="csrfmiddlewaretoken" value="tok">')
        if path == "/user/login/":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            ok = (form.get("email"), form.get("password")) == self.account and form.get("csrfmiddlewaretoken") == "tok"
            return httpx.Response(200, headers={"set-cookie": "sessionid=ok; Path=/"} if ok else {}, text="")
        if request.headers.get("cookie") != "sessionid=ok":
            return httpx.Response(401, json={"detail": "Authentication credentials were not provided."})
        if path == "/api/current-user/whoami":
            return httpx.Response(200, json={"email": self.account[0]})
        if path == "/api/projects" and method == "GET":
            title = request.url.params.get("title", "")
            return httpx.Response(200, json={"results": [p for p in self.projects if title in p["title"]]})
        if path == "/api/projects":
            project = {"id": len(self.projects) + 1, **json.loads(request.content)}
            self.projects.append(project)
            return httpx.Response(201, json=project)
        if path == "/api/tasks":
            wanted = int(request.url.params["project"])
            tasks = [t for t in self.tasks if t["project"] == wanted]
            return httpx.Response(200, json={"tasks": tasks, "total": len(tasks)})
        found = re.fullmatch(r"/api/projects/(\d+)/(import|export)", path)
        if found and found[2] == "import":
            new = json.loads(request.content)
            for task in new:
                self.tasks.append({"id": len(self.tasks) + 1, "project": int(found[1]), "annotations": [], **task})
            return httpx.Response(201, json={"task_count": len(new)})
        if found:
            return httpx.Response(200, json=[t for t in self.tasks if t["project"] == int(found[1])])
        return httpx.Response(404, json={"detail": "not found"})


SECRET = "pw"  # the fake's account


@pytest.fixture
def studio() -> FakeLabelStudio:
    return FakeLabelStudio("ann@localhost", SECRET)


def _client(fake: FakeLabelStudio, password: str) -> LabelStudio:
    return LabelStudio("http://studio.test/", "ann@localhost", password, transport=httpx.MockTransport(fake))


def test_push_sends_a_sample_of_distinct_forms_once(tmp_path: Path, studio: FakeLabelStudio) -> None:
    write_logs(tmp_path / "logs", REFERENCE + CURRENT)
    connection = connect(str(tmp_path / "logs"), {})
    window = Window.parse("2026-11-01:2026-11-14")
    tasks = sample_tasks(connection, window, 10, seed=1)
    assert sorted(t["data"]["text"] for t in tasks) == sorted(
        ["Boulangerie artisanale", "vente en ligne de vêtements", "livraison de repas à vélo"]
    )  # 3 distinct descriptions among 8 predictions
    assert sample_tasks(connection, window, 10, seed=1) == tasks
    assert len(sample_tasks(connection, window, 2, seed=1)) == 2
    bread = next(t for t in tasks if t["data"]["text"] == "Boulangerie artisanale")
    assert bread["data"]["side"] == "type_form M"
    assert bread["data"]["model_code"] == "1071C"  # the latest form of the description (2026-11-09)
    [prediction] = bread["predictions"]
    assert prediction["score"] == pytest.approx(0.95)
    assert prediction["result"][0]["value"] == {"text": ["1071C"]}

    client = _client(studio, SECRET)
    assert push(client, "NAF coding", tasks) == (3, 0)
    assert studio.projects[0]["title"] == "NAF coding"
    assert '<TextArea name="code"' in studio.projects[0]["label_config"]
    assert push(client, "NAF coding", tasks) == (0, 3)  # already there: nothing sent twice
    client.close()


def test_a_wrong_password_or_no_server_is_a_clear_error(studio: FakeLabelStudio) -> None:
    with pytest.raises(LabelStudioError, match="refused ann@localhost: wrong e-mail or password"):
        _client(studio, password="nope")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(LabelStudioError, match=r"cannot reach Label Studio at http://studio\.test"):
        LabelStudio("http://studio.test", "a@b", "c", transport=httpx.MockTransport(down))
    client = _client(studio, SECRET)
    with pytest.raises(LabelStudioError, match="has no project named 'missing'"):
        client.project("missing", create=False)


def _annotation(code: str, when: str, cancelled: bool = False) -> dict[str, Any]:
    result = [{"from_name": "code", "to_name": "text", "type": "textarea", "value": {"text": [code]}}]
    return {"result": result, "updated_at": when, "was_cancelled": cancelled}


def test_pull_writes_the_experts_codes_as_a_labelled_csv(
    tmp_path: Path, nomenclature: Nomenclature, data_dir: Path
) -> None:
    export = [
        {"id": 1, "data": {"text": "Boulangerie", "type_form": "M", "model_code": "1071D", "ic": 0.4},
         "annotations": [_annotation("10.71d", "2026-11-20T10:00"), _annotation("10.71c", "2026-11-21T10:00")]},
        {"id": 2, "data": {"text": "vente sur internet"}, "annotations": [_annotation("47.91a", "2026-11-20")]},
        {"id": 3, "data": {"text": "pas clair"}, "annotations": [_annotation("xxxxx", "2026-11-20")]},
        {"id": 4, "data": {"text": "typo"}, "annotations": [_annotation("12345", "2026-11-20")]},
        {"id": 5, "data": {"text": "skipped"}, "annotations": [_annotation("4791A", "2026-11-20", cancelled=True)]},
        {"id": 6, "data": {"text": "not yet"}, "annotations": []},
    ]  # fmt: skip
    rows, problems = annotated_rows(export, {*nomenclature.subclasses, UNCLASSIFIABLE})
    assert [(r["task_id"], r["label"]) for r in rows] == [(1, "1071C"), (2, "4791A"), (3, "XXXXX")]
    assert [(p.path, p.reason) for p in problems] == [("task 4", "code '12345' is not a NAF subclass")]
    assert rows[0]["model_code"] == "1071D"
    write_rows(rows, tmp_path / "gold" / "annotated.csv")
    labelled = read_labelled_forms(tmp_path / "gold" / "annotated.csv", nomenclature)
    assert len(labelled) == 3
