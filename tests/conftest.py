"""Shared fixtures: where the real data and the Onyxia conformance fixtures lie; a real SeaweedFS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sardonyx.storage import S3Credentials, SeaweedFS

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = (REPO_ROOT.parent / "shared").resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout: real data (``data/``) and Onyxia fixtures (``fixtures/onyxia``)."""
    if not SHARED.is_dir():
        pytest.fail(f"the shared folder is missing: {SHARED} (tests read real data and fixtures from it)")
    return SHARED


@pytest.fixture(scope="session")
def onyxia_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "onyxia"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real SeaweedFS (`weed mini`) on free loopback ports for the whole test session, stopped at the end.

    Use ``seaweedfs.endpoint`` for admin access, or the ``s3_project`` fixture for a bucket with scoped keys.
    """
    from sardonyx.storage.testing import running_seaweedfs

    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_project(seaweedfs: SeaweedFS) -> S3Credentials:
    """A fresh bucket (``test-<hex>``) in the session's SeaweedFS, with credentials scoped to it."""
    from sardonyx.storage.testing import project_credentials

    return project_credentials(seaweedfs)


_MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")


@pytest.fixture(autouse=True)
def _isolated_mlflow_settings() -> Iterator[None]:
    """Put MLflow's process-wide settings back after each test: its tracking and registry URIs (which
    ``mlflow.set_tracking_uri`` keeps in a module global *and* in the environment) and the ``MLFLOW_*`` variables a
    command run in-process (``codif train --tracking-uri``) sets, so that no test sees another's MLflow."""
    import os
    import sys

    saved = {name: os.environ.get(name) for name in _MLFLOW_ENV}
    yield
    if "mlflow" in sys.modules:  # first: clearing the URIs also clears MLFLOW_TRACKING_URI, restored just below
        import mlflow

        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None is MLflow's "unset", not in its annotation
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
