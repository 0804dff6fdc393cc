"""Preview of Parquet and CSV files in the project's bucket: schema and first rows, by DuckDB on the server.

DuckDB reads the object straight from S3 through its ``httpfs`` extension, loaded from the file the PyPI package
``duckdb-extension-httpfs`` ships (``LOAD '<path>'``: nothing is downloaded at run time; the package's version
must equal DuckDB's, both pinned in ``pyproject.toml``). Memory stays bounded whatever the file size: DuckDB's
``memory_limit`` caps its buffers, one thread reads, and a ``LIMIT`` stops the scan early (Parquet reads only
the row groups it needs through HTTP range requests; CSV stops after the first buffers). The row count comes
from the Parquet footer (no scan); CSV files get none (it would need a full scan).

DuckDB is imported here only, lazily: the platform process does not load it until a preview is asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from sardonyx.errors import BadRequest, SardonyxError, Violation
from sardonyx.storage import S3Credentials

PREVIEW_ROWS: Final = 50
MEMORY_LIMIT: Final = "256MB"
"""DuckDB's buffer limit per preview (the platform's own memory target is 200 MB RSS at rest)."""
MAX_CELL: Final = 200
"""Cell text longer than this is cut (with an ellipsis) in the preview."""

FileKind = Literal["parquet", "csv"]
_lock = threading.Lock()


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Preview:
    """What the preview page shows: ``columns`` (name, DuckDB type), ``rows`` as text cells, ``total_rows`` when
    known without a scan (Parquet), the file kind."""

    key: str
    kind: FileKind
    columns: list[Column]
    rows: list[list[str]]
    total_rows: int | None


def preview_kind(key: str) -> FileKind | None:
    """``parquet`` for ``.parquet``/``.pq``, ``csv`` for ``.csv``/``.tsv`` (optionally ``.gz``), else None."""
    name = key.lower()
    if name.endswith((".parquet", ".pq", ".parq")):
        return "parquet"
    if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt.gz")):
        return "csv"
    return None


def httpfs_extension() -> Path:
    """The packaged ``httpfs`` extension matching the installed DuckDB.

    Raises:
        SardonyxError: the package is missing or does not carry DuckDB's version.
    """
    import duckdb
    import duckdb_extension_httpfs

    version = duckdb.__version__
    path = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{version}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise SardonyxError(
            f"the DuckDB httpfs extension for DuckDB {version} is not installed "
            f"(pip install duckdb-extension-httpfs=={version})"
        )
    return path


def _connection(credentials: S3Credentials) -> Any:
    import duckdb

    connection = duckdb.connect(":memory:", config={"memory_limit": MEMORY_LIMIT, "threads": 1})
    register_s3(connection, credentials)
    return connection


def register_s3(connection: Any, credentials: S3Credentials) -> None:
    """Load the packaged httpfs extension into a DuckDB ``connection`` and give it ``credentials`` for ``s3://``."""
    connection.execute(f"LOAD '{httpfs_extension()}'")
    use_ssl = credentials.endpoint_url.startswith("https://")
    connection.execute(
        "CREATE SECRET project_s3 (TYPE s3, KEY_ID ?, SECRET ?, SESSION_TOKEN ?, ENDPOINT ?, REGION ?, "
        "URL_STYLE ?, USE_SSL ?)",
        [
            credentials.access_key_id,
            credentials.secret_access_key,
            credentials.session_token or "",
            credentials.endpoint_host,
            credentials.region,
            "path" if credentials.path_style_access else "vhost",
            use_ssl,
        ],
    )


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value.hex() if isinstance(value, bytes | bytearray) else str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def preview_object(credentials: S3Credentials, key: str, *, rows: int = PREVIEW_ROWS) -> Preview:
    """Schema and first ``rows`` rows of the Parquet or CSV object ``key`` of the credentials' bucket.

    Raises:
        BadRequest: not a Parquet or CSV file, or a file DuckDB cannot read (the message gives DuckDB's reason).
    """
    import duckdb

    kind = preview_kind(key)
    if kind is None:
        raise BadRequest(
            f"{key} cannot be previewed: only Parquet (.parquet) and CSV (.csv, .tsv) files can",
            violations=[Violation("key", "not a Parquet or CSV file")],
        )
    url = f"s3://{credentials.bucket}/{key}"
    reader = "read_parquet(?)" if kind == "parquet" else "read_csv(?, sample_size = 2048)"
    with _lock:  # one preview at a time: bounded memory, whatever the number of open tabs
        connection = _connection(credentials)
        try:
            relation = connection.execute(f"SELECT * FROM {reader} LIMIT {int(rows)}", [url])  # noqa: S608
            description = relation.description or []
            fetched = relation.fetchall()
            columns = [Column(str(d[0]), str(d[1])) for d in description]
            types = connection.execute(f"DESCRIBE SELECT * FROM {reader}", [url]).fetchall()  # noqa: S608
            if len(types) == len(columns):
                columns = [Column(str(t[0]), str(t[1])) for t in types]
            total: int | None = None
            if kind == "parquet":
                count = connection.execute("SELECT sum(num_rows) FROM parquet_file_metadata(?)", [url]).fetchone()
                total = int(count[0]) if count and count[0] is not None else None
        except duckdb.Error as error:
            message = str(error).splitlines()[0]
            raise BadRequest(
                f"{key} could not be read as {kind.upper()}: {message}",
                violations=[Violation("key", message)],
            ) from error
        finally:
            connection.close()
    return Preview(key=key, kind=kind, columns=columns, rows=[[_cell(v) for v in row] for row in fetched],
                   total_rows=total)  # fmt: skip
