"""A real platform for end-to-end tests: started with the README's command (``.venv/bin/sardonyx up``) on free
loopback ports with its own data directory, driven through its CLI and REST API, stopped at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sardonyx.auth import read_api_token
from sardonyx.client import PlatformClient
from sardonyx.ports import free_ports
from sardonyx.settings import SeaweedFSPorts

SARDONYX = Path(sys.executable).parent / "sardonyx"
LOGIN = "tester"
PROJECT = f"user-{LOGIN}"


def platform_env(data_dir: Path) -> dict[str, str]:
    """The environment of one platform: its data directory, login and free ports for the API and S3."""
    ports = free_ports(11)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARDONYX_")}
    env |= {"SARDONYX_DATA_DIR": str(data_dir), "SARDONYX_LOGIN": LOGIN, "SARDONYX_PORT": str(ports[0])}
    for name, port in zip(SeaweedFSPorts.model_fields, ports[1:], strict=True):
        env[f"SARDONYX_S3__PORTS__{name.upper()}"] = str(port)
    return env


@dataclass
class RunningPlatform:
    env: dict[str, str]
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['SARDONYX_PORT']}"

    def client(self) -> PlatformClient:
        return PlatformClient(self.url, timeout=120, token=read_api_token(self.data_dir))

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run ``sardonyx ARGS`` against this platform (never raises on a non-zero status)."""
        env = self.env | {"COLUMNS": "200", "NO_COLOR": "1"}
        return subprocess.run(
            [str(SARDONYX), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def service_pid(self, service_id: str) -> int:
        """The pid of a local service's main process (as the local runtime's shim records it)."""
        import json

        record = self.data_dir / "services" / PROJECT / service_id / ".sardonyx" / "process.json"
        return int(json.loads(record.read_text())["child_pid"])


def start_platform(data_dir: Path, env: dict[str, str] | None = None) -> RunningPlatform:
    """``sardonyx up`` with ``env`` (default: fresh free ports); asserts it came up."""
    platform = RunningPlatform(env or platform_env(data_dir), data_dir)
    result = platform.cli("up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Sardonyx is up at {platform.url}" in result.stdout
    return platform


def stop_platform(platform: RunningPlatform) -> None:
    """Delete every service, then stop the platform (nothing it started is left running)."""
    try:
        with platform.client() as client:
            for app in client.services():
                client.delete(app["id"])
    finally:
        result = platform.cli("down")
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("platform"))
    try:
        yield running
    finally:
        stop_platform(running)
