"""The model holder: initial load, reloads, atomic swaps, failures reported, alias polling."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow.pyfunc.model import PythonModel

from codif.forms import Form
from codif.serve.model_store import MlflowModelSource, ModelHolder, ModelLoadError, follows_alias

from .conftest import FakeCoder, FakeSource


def test_follows_alias() -> None:
    assert follows_alias("models:/codif@champion")
    assert not follows_alias("models:/codif/3")
    assert not follows_alias("/tmp/model")


def test_nothing_served_before_the_first_load() -> None:
    holder = ModelHolder(FakeSource({"1": FakeCoder()}), "models:/codif@champion")
    with pytest.raises(ModelLoadError, match="no model is loaded"):
        _ = holder.current
    assert holder.status()["model"] is None


def test_reload_swaps_only_when_the_version_moves() -> None:
    source = FakeSource({"1": FakeCoder(), "2": FakeCoder()})
    holder = ModelHolder(source, "models:/codif@champion", poll_seconds=0)
    holder.load_initial()
    assert holder.reload_now() is False
    assert source.loads == ["1"]
    source.alias = "2"
    assert holder.reload_now() is True
    assert holder.current.ref.version == "2"
    assert source.loads == ["1", "2"]
    assert source.released == ["1"]


def test_a_failed_reload_is_reported_then_cleared() -> None:
    source = FakeSource({"1": FakeCoder(), "2": RuntimeError("bad pickle"), "3": FakeCoder()})
    holder = ModelHolder(source, "models:/codif@champion", poll_seconds=0)
    holder.load_initial()
    source.alias = "2"
    assert holder.reload_now() is False
    failure = holder.status()["reload"]["last_failure"]
    assert failure["version"] == "2"
    assert "bad pickle" in failure["error"]
    assert holder.current.ref.version == "1"
    source.alias = "3"
    assert holder.reload_now() is True
    assert holder.status()["reload"]["last_failure"] is None


def test_an_unreachable_registry_is_reported_without_a_version() -> None:
    source = FakeSource({"1": FakeCoder()})
    holder = ModelHolder(source, "models:/codif@champion", poll_seconds=0)
    holder.load_initial()
    source.resolve_error = ModelLoadError("cannot resolve models:/codif@champion in MLflow: connection refused")
    holder.reload_now()
    failure = holder.status()["reload"]["last_failure"]
    assert failure["version"] is None
    assert "connection refused" in failure["error"]
    assert holder.current.ref.version == "1"


def test_requests_keep_being_answered_while_a_new_version_loads() -> None:
    old, new = FakeCoder(tag="old"), FakeCoder(tag="new")
    source = FakeSource({"1": old, "2": new})
    holder = ModelHolder(source, "models:/codif@champion", poll_seconds=0)
    holder.load_initial()
    holder.start()
    try:
        source.alias = "2"
        source.load_gate = threading.Event()
        holder.request_reload()
        deadline = time.monotonic() + 5
        while not holder.status()["reload"]["in_progress"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holder.status()["reload"]["in_progress"]
        # the load is blocked: the old version answers
        model = holder.current
        assert model.coder.predict_forms([Form("pain")])[0].candidates[0].label.endswith("old")
        source.load_gate.set()
        state = holder.request_reload(wait=5)
        assert state["model"]["version"] == "2"
        # a request that took the old model before the swap finishes with it, whole
        assert model.ref.version == "1"
        assert holder.current.coder is new
    finally:
        holder.stop()


def test_the_poller_follows_the_alias() -> None:
    source = FakeSource({"1": FakeCoder(), "2": FakeCoder()})
    holder = ModelHolder(source, "models:/codif@champion", poll_seconds=0.05)
    holder.load_initial()
    holder.start()
    try:
        source.alias = "2"
        deadline = time.monotonic() + 5
        while holder.current.ref.version != "2" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert holder.current.ref.version == "2"
        assert holder.status()["reload"]["last_check_at"] is not None
    finally:
        holder.stop()


def test_a_fixed_version_is_not_polled() -> None:
    source = FakeSource({"1": FakeCoder()})
    holder = ModelHolder(source, "models:/codif/1", poll_seconds=0.01)
    holder.load_initial()
    holder.start()
    time.sleep(0.1)
    holder.stop()
    assert holder.status()["reload"]["last_check_at"] is None


def test_request_reload_runs_inline_without_the_thread() -> None:
    source = FakeSource({"1": FakeCoder(), "2": FakeCoder()})
    holder = ModelHolder(source, "models:/codif@champion", poll_seconds=0)
    holder.load_initial()
    source.alias = "2"
    assert holder.request_reload()["model"]["version"] == "2"


@pytest.mark.parametrize("uri", ["models:/codif", "models:/codif/latest", "runs:/abc/model"])
def test_unsupported_uris_are_refused(uri: str) -> None:
    source = MlflowModelSource()
    try:
        with pytest.raises(ModelLoadError, match="unsupported model URI"):
            source.resolve(uri)
    finally:
        source.close()


def test_a_directory_without_mlmodel_is_refused(tmp_path: Path) -> None:
    source = MlflowModelSource()
    try:
        with pytest.raises(ModelLoadError, match="not an MLflow model directory"):
            source.resolve(str(tmp_path))
    finally:
        source.close()


def test_requirement_mismatches_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from importlib.metadata import version

    from codif.serve.model_store import _warn_requirement_mismatches

    (tmp_path / "requirements.txt").write_text(
        f"numpy=={version('numpy')}\nhttpx<0.1\nno-such-package-for-codif==1.0\n# a comment\n-r other.txt\npydantic\n"
    )
    with caplog.at_level("WARNING", logger="codif.serve.model"):
        _warn_requirement_mismatches(tmp_path)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        f"the model was saved with httpx<0.1; httpx {version('httpx')} is installed here",
        "the model needs no-such-package-for-codif==1.0, which is not installed here",
    ]
    _warn_requirement_mismatches(tmp_path / "nowhere")  # no requirements.txt: nothing to say


def test_a_registry_uri_needs_a_tracking_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    source = MlflowModelSource()
    try:
        with pytest.raises(ModelLoadError, match="MLFLOW_TRACKING_URI is not set: point it to the MLflow server"):
            source.resolve("models:/codif@champion")
    finally:
        source.close()
    assert list(tmp_path.iterdir()) == []  # no ./mlflow.db left behind


class _CannotCode(PythonModel):
    """Loads fine, has ``predict_forms``, but every prediction fails (an incompatible model, say)."""

    def predict(self, context: Any, model_input: list[str], params: dict[str, Any] | None = None) -> list[str]:
        return ["0000Z" for _ in model_input]

    def predict_forms(self, forms: Any, k: int = 5, prob_min: float = 0.01) -> Any:
        raise ValueError("shapes (1,10) and (12,732) not aligned")


def test_a_version_that_loads_but_cannot_code_a_form_is_refused(tmp_path: Path) -> None:
    import mlflow.pyfunc

    mlflow.pyfunc.save_model(str(tmp_path / "model"), python_model=_CannotCode(), pip_requirements=[])
    source = MlflowModelSource()
    try:
        ref = source.resolve(str(tmp_path / "model"))
        with pytest.raises(ModelLoadError, match=r"loads but cannot code a test form: .*not aligned"):
            source.load(ref)
    finally:
        source.close()
