"""Real components for the model API's integration tests: an MLflow server and ``codif serve`` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from sardonyx.ports import free_port

BIN = Path(sys.executable).parent


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"{url} did not answer in {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def champion(mlflow_uri: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The real codif model, trained on the real data by ``codif train`` and promoted: its version."""
    from .models import promote, train

    workdir = tmp_path_factory.mktemp("codif-train")
    version = train(mlflow_uri, workdir)
    promote(mlflow_uri, workdir)
    return version


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server and registry (SQLite, local artifacts served by the server)."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = root / "mlflow.log"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    command = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--serve-artifacts"]
    command += ["--artifacts-destination", str(root / "artifacts")]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{uri}/health", process, log, timeout=120)
        yield uri
    finally:
        _stop(process)


class Served:
    """A running ``codif serve`` process."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path, logs_dir: Path) -> None:
        self.process = process
        self.url = url
        self.log = log
        self.logs_dir = logs_dir

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, trust_env=False, timeout=30)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        """SIGTERM, then check the shutdown was clean (uvicorn re-raises the signal once shut down: -15)."""
        _stop(self.process)
        assert self.process.returncode in (0, -signal.SIGTERM), self.output()[-3000:]
        assert "Application shutdown complete" in self.output(), self.output()[-3000:]


def start_serve(workdir: Path, env: Mapping[str, str], *args: str, timeout: float = 60) -> Served:
    """Start ``codif serve`` on a free port with ``env`` added to ours; wait until /health answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "serve.log"
    logs_dir = workdir / "business-logs"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODIF_SERVE_"))},
        "CODIF_SERVE_LOGS_DIR": str(logs_dir),
        **env,
    }
    command = [str(BIN / "codif"), "serve", "--port", str(port), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=workdir, start_new_session=True
        )
    served = Served(process, f"http://127.0.0.1:{port}", log, logs_dir)
    try:
        _wait_http(f"{served.url}/health", process, log, timeout)
    except BaseException:
        served.stop()
        raise
    return served


class TcpForwarder:
    """Forwards 127.0.0.1:``port`` to ``target`` while started: an S3 endpoint that can go down and come back."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self._target = target
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self._server = server
        self._spawn(self._accept, server)

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._spawn(self._pipe, client, upstream)
            self._spawn(self._pipe, upstream, client)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
