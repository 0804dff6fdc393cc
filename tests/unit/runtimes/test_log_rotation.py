"""Service logs are rotated by size (copy, then truncate in place) while the service writes, and the runtime's
log readers (whole log, tail, follow) read across the rotated files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sardonyx.runtimes.base import ServiceStatus
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.runtimes.local.shim import rotate_log, rotated_names
from sardonyx.runtimes.progress import InMemoryStateStore
from tests.unit.runtimes.conftest import job_recipe, make_spec, wait_for

pytestmark = pytest.mark.anyio


def test_rotation_copies_then_truncates_in_place_and_keeps_a_few_backups(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("small\n")
    assert rotate_log(log, 100, 2) is False and log.read_text() == "small\n"
    with log.open("a") as writer:  # a writer that keeps its descriptor, as a service does
        for generation in range(4):
            writer.write(f"generation {generation}\n" * 20)
            writer.flush()
            assert rotate_log(log, 100, 2) is True
            assert log.stat().st_size == 0
        writer.write("after\n")
        writer.flush()
    assert log.read_text() == "after\n"  # appended at the start of the emptied file, not at the old offset
    first, second = rotated_names(log, 2)
    assert first.read_text() == "generation 3\n" * 20 and second.read_text() == "generation 2\n" * 20
    assert not log.with_name("service.log.3").exists() and not list(tmp_path.glob("*.tmp"))
    assert rotate_log(tmp_path / "missing.log", 1, 1) is False


async def test_a_service_log_rotates_while_it_runs_and_reads_whole(tmp_path: Path) -> None:
    runtime = LocalRuntime(
        InMemoryStateStore(), tmp_path / "data", envs_dir=tmp_path / "envs", log_max_bytes=4096, log_backups=10
    )
    code = (
        "import time\nfor n in range(400):\n    print(f'line {n:04d} ' + 'x' * 40, flush=True)\n    time.sleep(0.005)"
    )
    try:
        await runtime.start(make_spec("chatty", job_recipe(code)))
        followed: list[str] = []

        async def follow() -> None:
            async for line in runtime.logs("chatty", follow=True):
                followed.append(line)

        follower = asyncio.ensure_future(follow())
        await wait_for(runtime, "chatty", ServiceStatus.SUCCEEDED, timeout=60)
        await asyncio.wait_for(follower, 30)
        log = Path(runtime._services["chatty"].state["service_dir"]) / ".sardonyx" / "service.log"
        backups = [p for p in rotated_names(log, 10) if p.exists()]
        assert backups  # about 20 KB written over 2.5 s or more, checked every second past 4 KB
        assert all(p.stat().st_size <= 4096 + 12_000 for p in backups)
        lines = [line for line in followed if line.startswith("line ")]
        numbers = [int(line.split()[1]) for line in lines]
        # in order, none twice, the last one there; the copy-then-truncate instant may drop a line per rotation
        assert numbers == sorted(set(numbers)) and numbers[-1] == 399 and len(numbers) >= 400 - len(backups)
        whole = [line async for line in runtime.logs("chatty")]
        assert [line for line in whole if line.startswith("line ")] == lines
        tail = [line async for line in runtime.logs("chatty", tail=150)]
        assert tail[-1].startswith("[sardonyx] the job's process exited with status 0")
        assert [line for line in tail if line.startswith("line ")] == lines[-149:]
    finally:
        for service_id in list(runtime._services):
            await runtime.delete(service_id)
        await runtime.close()
