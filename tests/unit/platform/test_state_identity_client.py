"""The state store, identity and the REST client's error mapping (no server)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sardonyx.client import curl_command, error_from_problem
from sardonyx.errors import Forbidden, InvalidName, InvalidValues, NotFound, SardonyxError, Violation
from sardonyx.identity import User, idep_from_login, local_user
from sardonyx.services import flatten_values, service_password
from sardonyx.settings import Settings
from sardonyx.state import ServiceRecord, StateStore


def record(service_id: str = "demo-123456", project: str = "user-alice") -> ServiceRecord:
    now = time.time()
    return ServiceRecord(service_id, project, "alice", "builtin", "demo", "1.0.0", "Demo", {"a": {"b": 1}}, now,
                         "pending", None, "requested", now)  # fmt: skip


def test_state_store_is_private_and_keeps_services_transitions_and_secrets(tmp_path: Path) -> None:
    path = tmp_path / "sardonyx.db"
    store = StateStore(path)
    assert path.stat().st_mode & 0o777 == 0o600
    store.add_service(record())
    assert store.record_status("demo-123456", "starting", None, "building") is not None
    assert store.record_status("demo-123456", "starting", None, "still building") is None  # message only
    assert store.get_service("demo-123456").message == "still building"
    assert store.record_status("demo-123456", "running", None, "ready") is not None
    store.save("demo-123456", {"phase": "running"})
    store.save_credentials("user-alice", "AK", "SK")
    password = store.project_password("user-alice", lambda: "generated")
    store.close()

    reopened = StateStore(path)
    assert reopened.get_service("demo-123456").values == {"a": {"b": 1}}
    assert [t.status for t in reopened.transitions(service_id="demo-123456")] == ["pending", "starting", "running"]
    assert reopened.load("demo-123456") == {"phase": "running"}
    assert reopened.all() == {"demo-123456": {"phase": "running"}}
    assert reopened.load_credentials("user-alice") == ("AK", "SK")
    assert reopened.project_password("user-alice", lambda: "other") == password == "generated"
    reopened.remove_service("demo-123456")
    deleted = reopened.add_transition("demo-123456", "user-alice", "deleted", None, "gone")
    assert deleted.seq > 3
    assert reopened.find_service("demo-123456") is None
    with pytest.raises(NotFound):
        reopened.get_service("demo-123456")
    with pytest.raises(NotFound):
        reopened.record_status("demo-123456", "running", None, None)
    assert [t.status for t in reopened.transitions(project="user-alice")][-1] == "deleted"


def test_state_store_lists_per_project_oldest_first() -> None:
    store = StateStore(":memory:")
    store.add_service(record("b-1", "user-alice"))
    store.add_service(record("a-1", "user-bob"))
    store.add_service(record("c-1", "user-alice"))
    assert [r.id for r in store.list_services("user-alice")] == ["b-1", "c-1"]
    assert len(store.list_services()) == 3
    assert store.rename_service("b-1", "New").friendly_name == "New"
    assert store.share_service("b-1", True).share is True


@pytest.mark.parametrize(("login", "idep"), [("alice", "alice"), ("John.Doe", "john-doe"), ("a_b c", "a-b-c")])
def test_login_becomes_an_idep(login: str, idep: str) -> None:
    assert idep_from_login(login) == idep


@pytest.mark.parametrize("login", ["", "-x", "é", "a" * 60, "a/b"])
def test_a_login_that_cannot_name_a_project_says_what_to_do(login: str) -> None:
    with pytest.raises(InvalidName, match="SARDONYX_LOGIN"):
        idep_from_login(login)


def test_local_user_has_exactly_one_personal_project(tmp_path: Path) -> None:
    user = local_user(Settings(data_dir=tmp_path, login="Alice"))
    assert user.idep == "alice"
    assert [p.id for p in user.projects] == ["user-alice"]
    assert user.personal_project.bucket == "user-alice"
    assert user.project(None) is user.personal_project
    assert user.project(" USER-ALICE ") is user.personal_project
    with pytest.raises(Forbidden):
        user.project("projet-x")
    info = user.as_onyxia()
    assert set(info) == {"email", "idep", "nomComplet", "ip", "groups", "roles", "projects"}
    assert [p for p in info["projects"] if "group" not in p] == info["projects"]
    assert isinstance(user, User)


def test_flattened_values_and_password_rule() -> None:
    values = {"a": {"b": True, "c": None, "d": [1, {"e": "x"}]}, "empty": {}, "none": [], "n": 1.5}
    assert flatten_values(values) == {
        "a.b": "true", "a.c": "null", "a.d[0]": "1", "a.d[1].e": "x", "empty": "{}", "none": "[]", "n": "1.5",
    }  # fmt: skip
    assert service_password({"security": {"password": "pw"}, "db": {"password": "other"}}) == "pw"
    assert service_password({"db": {"password": "first"}, "auth": {"adminPassword": "last"}}) == "last"
    assert service_password({"x": 1}) is None


def test_problems_become_the_platform_errors() -> None:
    problem = {
        "type": "https://sardonyx.dev/problems/invalid-values",
        "title": "Invalid values",
        "status": 400,
        "detail": "2 invalid values",
        "violations": [{"path": "a", "reason": "bad"}, {"path": "b", "reason": "worse"}],
    }
    error = error_from_problem(problem, 400)
    assert isinstance(error, InvalidValues)
    assert error.violations == [Violation("a", "bad"), Violation("b", "worse")]
    unknown = error_from_problem({"type": "about:blank", "title": "Method Not Allowed", "detail": "no"}, 405)
    assert isinstance(unknown, SardonyxError) and unknown.status == 405 and unknown.message == "no"


def test_curl_commands_are_shell_quoted() -> None:
    assert curl_command("GET", "http://h/x?a=1") == "curl 'http://h/x?a=1'"
    command = curl_command("PUT", "http://h/my-lab/app", {"packageName": "it's"})
    assert command.startswith("curl -X PUT -H 'Content-Type: application/json' -d ")
    assert "it'\"'\"'s" in command
    assert curl_command("GET", "http://h/logs", stream=True).startswith("curl -N ")
