"""Fakes for the model API's unit tests: a pure-Python coder, a model source with a movable alias, an uploader."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from codif.forms import Candidate, Form, Prediction
from codif.serve.app import create_app
from codif.serve.business_log import BusinessLog
from codif.serve.model_store import LoadedModel, ModelHolder, ModelLoadError, ModelRef
from codif.serve.settings import ServeSettings

LABELS = {
    "1071C": "Boulangerie et boulangerie-pâtisserie",
    "9602A": "Coiffure",
    "6201Z": "Programmation informatique",
    "4399C": "Travaux de maçonnerie générale et gros œuvre de bâtiment",
    "7022Z": "Conseil pour les affaires et autres conseils de gestion",
    "6820A": "Location de logements",
}
KEYWORDS = {"pain": "1071C", "boulang": "1071C", "coiff": "9602A", "logiciel": "6201Z", "macon": "4399C"}


class FakeCoder:
    """Deterministic coder: a keyword picks the best code (p1 = 0.7, or ``best`` when given); the other codes
    share the rest in a fixed order. ``calls`` records every (number of forms, k, prob_min)."""

    def __init__(self, best: float = 0.7, tag: str = "") -> None:
        self.best = best
        self.tag = tag
        self.calls: list[tuple[int, int, float]] = []

    def predict_forms(self, forms: Sequence[Form], k: int = 5, prob_min: float = 0.01) -> list[Prediction]:
        self.calls.append((len(forms), k, prob_min))
        return [self._one(form, k, prob_min) for form in forms]

    def _one(self, form: Form, k: int, prob_min: float) -> Prediction:
        text = form.description.lower()
        first = next((code for word, code in KEYWORDS.items() if word in text), "7022Z")
        vague = "vague" in text
        best = 0.15 if vague else self.best
        others = [code for code in LABELS if code != first]
        rest = best if vague else 1.0 - best  # a vague text: every probability low (they need not sum to 1)
        weights = [0.5, 0.25, 0.125, 0.0625, 0.0625]
        scored = [(first, best)] + [(code, rest * w) for code, w in zip(others, weights, strict=True)]
        candidates = tuple(Candidate(c, LABELS[c] + self.tag, p) for c, p in scored[:k] if p >= prob_min)
        p2 = candidates[1].probability if len(candidates) > 1 else 0.0
        return Prediction(candidates, candidates[0].probability - p2 if candidates else 0.0)


class FakeSource:
    """Versions ``1``, ``2``... each a coder or an exception to raise at load; ``alias`` says which is served."""

    def __init__(self, versions: dict[str, FakeCoder | Exception], alias: str = "1") -> None:
        self.versions = versions
        self.alias = alias
        self.loads: list[str] = []
        self.released: list[str] = []
        self.resolve_error: Exception | None = None
        self.load_gate: threading.Event | None = None

    def resolve(self, uri: str) -> ModelRef:
        if self.resolve_error is not None:
            raise self.resolve_error
        return ModelRef("codif", self.alias, uri, f"models:/codif/{self.alias}", run_id=f"run-{self.alias}")

    def load(self, ref: ModelRef) -> LoadedModel:
        self.loads.append(ref.version)
        if self.load_gate is not None:
            self.load_gate.wait(10)
        coder = self.versions[ref.version]
        if isinstance(coder, Exception):
            raise ModelLoadError(f"cannot load version {ref.version}: {coder}")
        return LoadedModel(ref, coder, datetime.now(UTC), 0.01)

    def release(self, model: LoadedModel) -> None:
        self.released.append(model.ref.version)


class FakeUploader:
    """Records uploads; fails while ``failures`` is positive (decremented at each attempt)."""

    destination = "s3://bucket/codif/logs/"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.uploaded: list[tuple[str, str, str]] = []  # (date, file name, content)
        self.attempts = 0
        self.event = threading.Event()

    def upload(self, path: Path, date: str) -> str:
        self.attempts += 1
        self.event.set()
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("S3 is down")
        self.uploaded.append((date, path.name, path.read_text()))
        return f"s3://bucket/codif/logs/date={date}/{path.name}"


class Api:
    """An app on fakes, with everything a test may want to look at."""

    def __init__(self, client: TestClient, source: FakeSource, holder: ModelHolder, log: BusinessLog) -> None:
        self.client = client
        self.source = source
        self.holder = holder
        self.log = log


def make_api(tmp_path: Path, settings: ServeSettings | None = None, source: FakeSource | None = None) -> Api:
    source = source or FakeSource({"1": FakeCoder()})
    settings = settings or ServeSettings(poll_seconds=0, logs_dir=tmp_path / "logs")
    holder = ModelHolder(source, settings.resolved_model_uri, settings.poll_seconds)
    holder.load_initial()
    log = BusinessLog(settings.logs_dir, None)
    return Api(TestClient(create_app(settings, holder, log)), source, holder, log)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    made = make_api(tmp_path)
    with made.client:
        yield made
