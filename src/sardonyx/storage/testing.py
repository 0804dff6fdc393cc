"""Start a real SeaweedFS for tests: on free loopback ports, in a given directory, stopped afterwards.

Used by the platform's integration tests and by other components' (runtime, codif, web UI) that need a real
S3. The pytest fixtures ``seaweedfs`` and ``s3_project`` in ``tests/conftest.py`` wrap these helpers::

    with running_seaweedfs(tmp_path / "s3") as server:
        credentials = project_credentials(server, "user-alice")   # bucket + keys scoped to it
        credentials.client().put_object(Bucket=credentials.bucket, Key="a.txt", Body=b"hello")
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from sardonyx.ports import PortInUse, free_ports
from sardonyx.settings import SeaweedFSPorts
from sardonyx.storage.credentials import CredentialIssuer, MemoryCredentialStore, S3Credentials
from sardonyx.storage.seaweedfs import SeaweedFS


def free_seaweedfs_ports() -> SeaweedFSPorts:
    """Ten distinct free loopback ports for one `weed mini`."""
    names = list(SeaweedFSPorts.model_fields)
    return SeaweedFSPorts(**dict(zip(names, free_ports(len(names)), strict=True)))


@contextlib.contextmanager
def running_seaweedfs(directory: Path, *, timeout: float = 30.0) -> Iterator[SeaweedFS]:
    """A started SeaweedFS whose data lives in ``directory``; stopped (not deleted) on exit.

    Ports are chosen free at run time; a port taken between the choice and the start is retried with new ports.
    """
    attempts = 3
    for attempt in range(attempts):
        server = SeaweedFS(directory, free_seaweedfs_ports())
        try:
            server.start(timeout)
            break
        except PortInUse:
            server.stop()
            if attempt == attempts - 1:
                raise
    try:
        yield server
    finally:
        server.stop()


def project_credentials(server: SeaweedFS, project: str | None = None) -> S3Credentials:
    """A bucket named ``project`` (default: a fresh ``test-<hex>``) with keys scoped to it."""
    issuer = CredentialIssuer(server.endpoint, MemoryCredentialStore())
    return issuer.for_project(project or f"test-{uuid.uuid4().hex[:12]}")
