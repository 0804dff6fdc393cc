"""The environment cache as `sardonyx envs` sees it: sizes, the services and processes using each environment,
and pruning what nothing uses (never an environment a service or a running program needs, nor one being built)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sardonyx.runtimes.base import ServiceStatus
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.runtimes.local.environments import MARKER, EnvironmentCache, tree_size
from sardonyx.runtimes.progress import InMemoryStateStore
from tests.unit.runtimes.conftest import http_server_recipe, make_spec

pytestmark = pytest.mark.anyio


def fake_environment(root: Path, key: str, requirements: list[str], size: int, built_at: float) -> Path:
    folder = root / key
    (folder / "bin").mkdir(parents=True)
    (folder / "lib.bin").write_bytes(b"x" * size)
    os.link(folder / "lib.bin", folder / "bin" / "same-file")  # a hard link is counted once
    marker = {"key": key, "python": None, "requirements": requirements, "project": None, "built_at": built_at}
    (folder / MARKER).write_text(json.dumps(marker | {"seconds": 1.5}))
    os.utime(folder / MARKER, (built_at, built_at))  # last used when built
    return folder


def suspended_state(runtime: LocalRuntime, service_id: str, env_dir: Path) -> dict[str, Any]:
    spec = make_spec(service_id, http_server_recipe())
    return {
        "version": 1,
        "spec": spec.as_dict(),
        "phase": ServiceStatus.SUSPENDED.value,
        "reason": "Suspended",
        "message": "suspended",
        "exit_code": None,
        "service_dir": str(runtime.services_root / "user-alice" / service_id),
        "ports": {},
        "env_dir": str(env_dir),
        "process": None,
        "url": None,
        "published": {},
        "started_at": None,
        "ready_at": None,
        "run": 1,
        "events": [],
    }


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Path]:
    """A running program of the environment ``busy`` (as another platform sharing the cache would run)."""
    root = tmp_path / "envs"
    program = root / "busy" / "bin" / "tool"
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(program)])
    try:
        yield program
    finally:
        process.kill()
        process.wait()


async def test_list_and_prune_keep_what_services_and_programs_use(tmp_path: Path, sleeper: Path) -> None:
    root = tmp_path / "envs"
    used = fake_environment(root, "used", ["pandas>=2.2"], 3000, time.time() - 7200)
    fake_environment(root, "busy", ["polars"], 2000, time.time() - 3600)
    unused = fake_environment(root, "unused", ["scikit-learn"], 5000, time.time() - 60)
    leftover = root / ".tmp-half-1234abcd"
    (leftover / "bin").mkdir(parents=True)
    (leftover / "bin" / "python").write_bytes(b"y" * 100)
    store = InMemoryStateStore()
    runtime = LocalRuntime(store, tmp_path / "data", envs_dir=root)
    store.save("notebook", suspended_state(runtime, "notebook", used))
    await runtime.restore()

    listed = {entry["key"]: entry for entry in runtime.environments()}
    assert list(listed) == ["used", "busy", "unused"]  # oldest build first
    assert listed["used"]["services"] == ["notebook"] and listed["used"]["requirements"] == ["pandas>=2.2"]
    assert listed["busy"]["services"] == [] and len(listed["busy"]["processes"]) == 1
    assert listed["unused"]["services"] == [] and listed["unused"]["processes"] == []
    assert listed["unused"]["size"] == 5000 + len((unused / MARKER).read_bytes())
    assert listed["used"]["buildSeconds"] == 1.5 and listed["used"]["lastUsed"] == pytest.approx(
        time.time() - 7200, abs=5
    )

    plan = runtime.prune_environments(dry_run=True)
    assert [e["key"] for e in plan["removed"]] == ["unused"] and plan["leftovers"] == [str(leftover)]
    assert {e["key"] for e in plan["kept"]} == {"used", "busy"}
    assert plan["freed"] == listed["unused"]["size"] + 100 and plan["dryRun"] is True
    assert unused.is_dir() and leftover.is_dir()

    done = runtime.prune_environments()
    assert [e["key"] for e in done["removed"]] == ["unused"] and done["freed"] == plan["freed"]
    assert not unused.exists() and not leftover.exists()
    assert used.is_dir() and (root / "busy").is_dir()
    assert runtime.prune_environments()["removed"] == []
    await runtime.close()


def test_an_environment_being_built_is_never_removed(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    folder = fake_environment(root, "k1", [], 10, time.time())
    cache = EnvironmentCache(root)
    (root / ".locks").mkdir(exist_ok=True)
    with (root / ".locks" / "k1.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what a build (in this process or another) holds
        assert cache.remove(folder) == 0 and folder.is_dir()
        building = root / ".tmp-k1-00ff00ff"
        building.mkdir()
        assert cache.leftovers() == []  # its temporary folder is not a leftover while the build runs
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert cache.leftovers() == [building]
    expected = tree_size(folder)
    assert expected == 10 + len((folder / MARKER).read_bytes())
    assert cache.remove(folder) == expected and not folder.exists()


def test_remove_refuses_a_path_outside_the_cache(tmp_path: Path) -> None:
    from sardonyx.errors import BadRequest

    cache = EnvironmentCache(tmp_path / "envs")
    with pytest.raises(BadRequest):
        cache.remove(tmp_path / "elsewhere")
    with pytest.raises(BadRequest):
        cache.remove(tmp_path / "envs" / ".locks")


def test_sizes_count_hard_links_once_and_skip_symbolic_links(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"z" * 1000)
    os.link(tmp_path / "a", tmp_path / "b")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c").write_bytes(b"z" * 10)
    (tmp_path / "link").symlink_to("/usr/bin")
    assert tree_size(tmp_path) == 1010
