"""``sardonyx envs list|prune`` and their REST endpoints."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from sardonyx.runtimes.local.environments import MARKER
from tests.unit.cli.conftest import Cli
from tests.unit.runtimes.test_environment_cache import fake_environment


def test_list_shows_sizes_users_and_packages_then_prune_deletes_the_unused(local_cli: Cli, tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    code, out, _ = local_cli("envs", "list")
    assert code == 0 and f"No environment built yet in {envs}." in out
    fake_environment(envs, "0123456789abcdef01234567", ["pandas>=2.2", "pyarrow>=20"], 3 * 1024 * 1024, time.time())
    fake_environment(envs, "fedcba9876543210fedcba98", [], 2048, time.time() - 7200)

    code, out, _ = local_cli("envs", "list")
    assert code == 0, out
    assert "ENVIRONMENT" in out and "SIZE" in out and "USED BY" in out
    assert "0123456789abcdef01234567" in out and "3.0 MB" in out and "pandas>=2.2, pyarrow>=20" in out
    assert "LAST USED" in out and "2 h ago" in out and "no package (the interpreter alone)" in out and "unused" in out
    assert "2 environments" in out and "Delete the unused ones with: sardonyx envs prune" in out
    listed = httpx.get(f"{local_cli.url}/platform/environments", headers=local_cli.auth).json()
    assert [e["key"] for e in listed["environments"]] == ["fedcba9876543210fedcba98", "0123456789abcdef01234567"]

    code, out, _ = local_cli("envs", "prune", "--dry-run")
    assert code == 0 and "Would delete: 2 folders, 3.0 MB." in out
    assert (envs / "0123456789abcdef01234567" / MARKER).exists()
    code, out, err = local_cli("envs", "prune", "--yes", "--show-command")
    assert code == 0, out + err
    assert "curl -X POST" in err and "/platform/environments/prune" in err
    assert "Deleted 2 environments: 3.0 MB freed." in out
    assert not (envs / "0123456789abcdef01234567").exists()
    code, out, _ = local_cli("envs", "prune", "--yes")
    assert code == 0 and "Nothing to prune: every environment is in use." in out


def test_a_runtime_without_environments_says_so(cli: Cli) -> None:
    code, _, err = cli("envs", "list")
    assert code == 1 and "error: the fake runtime of this region builds no environments" in err
    response = httpx.post(f"{cli.url}/platform/environments/prune", headers=cli.auth)
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/problem+json")
