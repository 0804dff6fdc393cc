"""The environment cache with the real uv: built once for concurrent launches, never half-built."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sardonyx.runtimes.local.environments import MARKER, EnvironmentBuildFailed, EnvironmentCache, EnvironmentRequest

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_concurrent_launches_share_one_build_then_reuse_it(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    request = EnvironmentRequest(None, ())  # an interpreter and pip only: no index needed
    waits: list[str] = []
    lines: list[str] = []
    first, second = await asyncio.gather(
        cache.ensure(request, lines.append, lambda: waits.append("first")),
        cache.ensure(request, lines.append, lambda: waits.append("second")),
    )
    assert first.path == second.path == cache.path_for(request)
    assert sorted([first.reused, second.reused]) == [False, True] and waits == ["second"]
    assert (first.path / "bin" / "python").exists() and json.loads((first.path / MARKER).read_text())[
        "key"
    ] == first.path.name
    assert any("Creating virtual environment" in line for line in lines)
    again = await cache.ensure(request, lines.append)
    assert again.reused and again.seconds == 0.0
    assert [p.name for p in (tmp_path / "envs").iterdir() if not p.name.startswith(".locks")] == [first.path.name]


async def test_a_failed_or_cancelled_build_leaves_nothing(tmp_path: Path) -> None:
    cache = EnvironmentCache(tmp_path / "envs")
    bad = EnvironmentRequest(None, ("sardonyx-no-such-package-xyz==1.0",))
    with pytest.raises(EnvironmentBuildFailed, match="No solution found"):
        await cache.ensure(bad, lambda line: None)
    slow = EnvironmentRequest(None, ("sardonyx-no-such-package-abc==2.0",))
    task = asyncio.ensure_future(cache.ensure(slow, lambda line: None))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [p.name for p in (tmp_path / "envs").iterdir() if not p.name.startswith(".locks")] == []
