"""A file-backed ``RuntimeStateStore``: one JSON document per service in a directory, written atomically.

For tests, benchmarks and tools that run a ``LocalRuntime`` without the platform's SQLite store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sardonyx.runtimes.names import SERVICE_ID_MAX, name_violations


class JsonDirStateStore:
    """``<root>/<service id>.json`` per service. Service ids are checked (RFC 1123) before becoming paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, service_id: str) -> Path:
        if name_violations(service_id, field="id", max_length=SERVICE_ID_MAX):
            raise ValueError(f"invalid service id {service_id!r}")
        return self.root / f"{service_id}.json"

    def save(self, service_id: str, state: Mapping[str, Any]) -> None:
        path = self._path(service_id)
        temp = path.with_suffix(".json.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        temp.replace(path)

    def load(self, service_id: str) -> dict[str, Any] | None:
        path = self._path(service_id)
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def delete(self, service_id: str) -> None:
        self._path(service_id).unlink(missing_ok=True)

    def all(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        for path in sorted(self.root.glob("*.json")):
            result[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        return result
