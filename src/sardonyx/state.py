"""The platform's state store: one SQLite database in the data directory (``<data_dir>/sardonyx.db``).

It holds what must survive a restart:

- ``services``: one row per service (what was launched, by whom, its friendly name, its values, the last status
  the platform recorded);
- ``transitions``: every lifecycle transition of every service (status, reason, message, time), the history
  behind the events stream;
- ``runtime_state``: the runtime's JSON document per service (``RuntimeStateStore``);
- ``s3_credentials``: the keys issued per project (``CredentialStore``); ``project_secrets``: each project's
  service password (Onyxia's ``project.password``).

One process writes (the platform); the connection is shared by the event loop's thread and worker threads under
a lock, in WAL mode. ``StateStore(":memory:")`` gives an in-memory store for tests. The file is created with
mode 0600: it holds secrets.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sardonyx.errors import NotFound

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS services (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    owner TEXT NOT NULL,
    catalog_id TEXT NOT NULL,
    chart TEXT NOT NULL,
    version TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    share INTEGER NOT NULL DEFAULT 0,
    values_json TEXT NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    message TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS services_project ON services (project, created_at);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id TEXT NOT NULL,
    project TEXT NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    message TEXT
);
CREATE INDEX IF NOT EXISTS transitions_service ON transitions (service_id, seq);
CREATE INDEX IF NOT EXISTS transitions_project ON transitions (project, seq);
CREATE TABLE IF NOT EXISTS runtime_state (service_id TEXT PRIMARY KEY, state_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS s3_credentials (
    project TEXT PRIMARY KEY, access_key_id TEXT NOT NULL, secret_access_key TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS project_secrets (project TEXT PRIMARY KEY, password TEXT NOT NULL);
"""


@dataclass(frozen=True)
class ServiceRecord:
    """What the platform remembers of one service.

    Attributes:
        id: the release name (``jupyter-python-626146``).
        values: the launch values (what ``helm install -f values.yaml`` receives).
        status, reason, message: the last status recorded (``ServiceStatus`` value).
        created_at, updated_at: seconds since the epoch.
    """

    id: str
    project: str
    owner: str
    catalog_id: str
    chart: str
    version: str
    friendly_name: str
    values: Mapping[str, Any]
    created_at: float
    status: str
    reason: str | None = None
    message: str | None = None
    updated_at: float = field(default_factory=time.time)
    share: bool = False


@dataclass(frozen=True)
class Transition:
    """One recorded lifecycle transition (``seq`` grows across all services)."""

    seq: int
    service_id: str
    project: str
    at: float
    status: str
    reason: str | None
    message: str | None


class StateStore:
    """The SQLite state store (see the module docstring). Thread-safe."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        memory = str(path) == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if not Path(path).exists():
                Path(path).touch(mode=0o600)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        if not memory:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._db.executescript(_SCHEMA)  # executescript commits on its own: no explicit transaction
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- services -------------------------------------------------------------------------------------------
    def add_service(self, record: ServiceRecord) -> None:
        """Insert a new service and its first transition. Raises ``sqlite3.IntegrityError`` on a taken id."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO services (id, project, owner, catalog_id, chart, version, friendly_name, share, "
                "values_json, created_at, status, reason, message, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.project,
                    record.owner,
                    record.catalog_id,
                    record.chart,
                    record.version,
                    record.friendly_name,
                    int(record.share),
                    json.dumps(record.values),
                    record.created_at,
                    record.status,
                    record.reason,
                    record.message,
                    record.updated_at,
                ),
            )
            self._insert_transition(db, record.id, record.project, at=record.updated_at, status=record.status,
                                    reason=record.reason, message=record.message)  # fmt: skip

    def get_service(self, service_id: str) -> ServiceRecord:
        """Raises ``NotFound`` for an unknown id."""
        rows = self._query("SELECT * FROM services WHERE id = ?", (service_id,))
        if not rows:
            raise NotFound(f"no service {service_id!r}")
        return _record(rows[0])

    def find_service(self, service_id: str) -> ServiceRecord | None:
        rows = self._query("SELECT * FROM services WHERE id = ?", (service_id,))
        return _record(rows[0]) if rows else None

    def has_service(self, service_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM services WHERE id = ?", (service_id,)))

    def list_services(self, project: str | None = None) -> list[ServiceRecord]:
        """Services of ``project`` (every project when None), oldest first."""
        if project is None:
            rows = self._query("SELECT * FROM services ORDER BY created_at, id")
        else:
            rows = self._query("SELECT * FROM services WHERE project = ? ORDER BY created_at, id", (project,))
        return [_record(row) for row in rows]

    def record_status(
        self, service_id: str, status: str, reason: str | None, message: str | None, *, at: float | None = None
    ) -> Transition | None:
        """Record the service's status; returns the new ``Transition`` when the status or reason changed, None
        otherwise (a new message alone is stored without a transition). Raises ``NotFound`` for an unknown id."""
        now = time.time() if at is None else at
        with self._transaction() as db:
            row = db.execute("SELECT project, status, reason, message FROM services WHERE id = ?",
                             (service_id,)).fetchone()  # fmt: skip
            if row is None:
                raise NotFound(f"no service {service_id!r}")
            if (row["status"], row["reason"], row["message"]) == (status, reason, message):
                return None
            db.execute(
                "UPDATE services SET status = ?, reason = ?, message = ?, updated_at = ? WHERE id = ?",
                (status, reason, message, now, service_id),
            )
            if (row["status"], row["reason"]) == (status, reason):
                return None
            return self._insert_transition(db, service_id, row["project"], at=now, status=status, reason=reason,
                                           message=message)  # fmt: skip

    def rename_service(self, service_id: str, friendly_name: str) -> ServiceRecord:
        with self._transaction() as db:
            cursor = db.execute("UPDATE services SET friendly_name = ? WHERE id = ?", (friendly_name, service_id))
            if cursor.rowcount == 0:
                raise NotFound(f"no service {service_id!r}")
        return self.get_service(service_id)

    def share_service(self, service_id: str, share: bool) -> ServiceRecord:
        with self._transaction() as db:
            cursor = db.execute("UPDATE services SET share = ? WHERE id = ?", (int(share), service_id))
            if cursor.rowcount == 0:
                raise NotFound(f"no service {service_id!r}")
        return self.get_service(service_id)

    def remove_service(self, service_id: str) -> None:
        """Forget the service (idempotent); its transitions stay, as history."""
        with self._transaction() as db:
            db.execute("DELETE FROM services WHERE id = ?", (service_id,))

    def add_transition(
        self, service_id: str, project: str, status: str, reason: str | None, message: str | None
    ) -> Transition:
        """Record a transition that no service row carries (``deleted``, after the row is gone)."""
        with self._transaction() as db:
            return self._insert_transition(db, service_id, project, at=time.time(), status=status, reason=reason,
                                           message=message)  # fmt: skip

    def transitions(
        self, *, service_id: str | None = None, project: str | None = None, after: int = 0, limit: int = 1000
    ) -> list[Transition]:
        """Recorded transitions with ``seq > after``, oldest first, for one service or one project (or all)."""
        sql = "SELECT * FROM transitions WHERE seq > ?"
        params: list[Any] = [after]
        if service_id is not None:
            sql += " AND service_id = ?"
            params.append(service_id)
        if project is not None:
            sql += " AND project = ?"
            params.append(project)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return [_transition(row) for row in self._query(sql, tuple(params))]

    @staticmethod
    def _insert_transition(
        db: sqlite3.Connection,
        service_id: str,
        project: str,
        *,
        at: float,
        status: str,
        reason: str | None,
        message: str | None,
    ) -> Transition:
        cursor = db.execute(
            "INSERT INTO transitions (service_id, project, at, status, reason, message) VALUES (?, ?, ?, ?, ?, ?)",
            (service_id, project, at, status, reason, message),
        )
        return Transition(int(cursor.lastrowid or 0), service_id, project, at, status, reason, message)

    # -- RuntimeStateStore -----------------------------------------------------------------------------------
    def save(self, service_id: str, state: Mapping[str, Any]) -> None:
        text = json.dumps(state)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runtime_state (service_id, state_json) VALUES (?, ?) "
                "ON CONFLICT(service_id) DO UPDATE SET state_json = excluded.state_json",
                (service_id, text),
            )

    def load(self, service_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT state_json FROM runtime_state WHERE service_id = ?", (service_id,))
        return dict(json.loads(rows[0]["state_json"])) if rows else None

    def delete(self, service_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM runtime_state WHERE service_id = ?", (service_id,))

    def all(self) -> dict[str, dict[str, Any]]:
        rows = self._query("SELECT service_id, state_json FROM runtime_state ORDER BY service_id")
        return {row["service_id"]: dict(json.loads(row["state_json"])) for row in rows}

    # -- CredentialStore -------------------------------------------------------------------------------------
    def load_credentials(self, project: str) -> tuple[str, str] | None:
        rows = self._query("SELECT access_key_id, secret_access_key FROM s3_credentials WHERE project = ?",
                           (project,))  # fmt: skip
        return (rows[0]["access_key_id"], rows[0]["secret_access_key"]) if rows else None

    def save_credentials(self, project: str, access_key_id: str, secret_access_key: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO s3_credentials (project, access_key_id, secret_access_key, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(project) DO UPDATE SET access_key_id = excluded.access_key_id, "
                "secret_access_key = excluded.secret_access_key, created_at = excluded.created_at",
                (project, access_key_id, secret_access_key, time.time()),
            )

    def delete_credentials(self, project: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM s3_credentials WHERE project = ?", (project,))

    # -- user preferences (account page: Git identity...) ----------------------------------------------------
    def user_preferences(self, user: str) -> dict[str, Any]:
        """The preferences saved for ``user`` (a JSON object; empty when none were saved)."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (f"preferences:{user}",))
        if not rows:
            return {}
        data = json.loads(rows[0]["value"])
        return dict(data) if isinstance(data, dict) else {}

    def save_user_preferences(self, user: str, preferences: Mapping[str, Any]) -> None:
        """Replace the preferences of ``user`` (kept in the ``meta`` table as JSON)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"preferences:{user}", json.dumps(dict(preferences))),
            )

    # -- project secrets ------------------------------------------------------------------------------------
    def project_password(self, project: str, generate: Callable[[], str]) -> str:
        """The project's service password, generated once by ``generate()`` (a callable returning text)."""
        with self._transaction() as db:
            row = db.execute("SELECT password FROM project_secrets WHERE project = ?", (project,)).fetchone()
            if row is not None:
                return str(row["password"])
            password = str(generate())
            db.execute("INSERT INTO project_secrets (project, password) VALUES (?, ?)", (project, password))
            return password


def _record(row: sqlite3.Row) -> ServiceRecord:
    return ServiceRecord(
        id=row["id"],
        project=row["project"],
        owner=row["owner"],
        catalog_id=row["catalog_id"],
        chart=row["chart"],
        version=row["version"],
        friendly_name=row["friendly_name"],
        values=json.loads(row["values_json"]),
        created_at=row["created_at"],
        status=row["status"],
        reason=row["reason"],
        message=row["message"],
        updated_at=row["updated_at"],
        share=bool(row["share"]),
    )


def _transition(row: sqlite3.Row) -> Transition:
    return Transition(row["seq"], row["service_id"], row["project"], row["at"], row["status"], row["reason"],
                      row["message"])  # fmt: skip


def default_database(data_dir: Path) -> Path:
    """``<data_dir>/sardonyx.db``."""
    return data_dir / "sardonyx.db"
