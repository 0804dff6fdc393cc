"""Browsing one project's bucket: list (folders, sizes, dates), upload, download, delete, presigned URLs.

What the web UI's "My files" and ``sardonyx files`` use (Onyxia's S3 explorer does the same from the browser).
Folders are S3 common prefixes under ``/``. Every call is synchronous (boto3): from async code use
``asyncio.to_thread``. Errors: a missing key raises ``NotFound``, a refused one ``Forbidden``, an unreachable
server ``UnavailableError``, a malformed key or prefix ``InvalidName``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from sardonyx.errors import Forbidden, InvalidName, NotFound, SardonyxError, UnavailableError, Violation
from sardonyx.storage.credentials import S3Credentials

PRESIGN_MAX_SECONDS = 7 * 24 * 3600
"""Longest validity of a presigned URL: 7 days, the SigV4 limit."""

_HEAD_AT_MOST = 20
"""``existing`` asks for up to this many keys one by one, and lists their folders beyond."""


@dataclass(frozen=True)
class S3Object:
    """One object: ``key`` (full), ``name`` (last path segment), ``size`` in bytes, ``last_modified`` (UTC)."""

    key: str
    name: str
    size: int
    last_modified: datetime
    etag: str = ""
    content_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "size": self.size,
            "lastModified": self.last_modified.isoformat(),
            "etag": self.etag,
            "contentType": self.content_type,
        }


@dataclass(frozen=True)
class S3Folder:
    """One folder (common prefix): ``prefix`` ends with ``/``; ``name`` is its last segment."""

    prefix: str
    name: str

    def as_dict(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "name": self.name}


@dataclass(frozen=True)
class Listing:
    """The content of ``prefix`` in ``bucket``: sub-folders and objects, each sorted by name."""

    bucket: str
    prefix: str
    folders: list[S3Folder] = field(default_factory=list)
    objects: list[S3Object] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        """Bytes of the listed objects (not of the folders' content)."""
        return sum(o.size for o in self.objects)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "folders": [f.as_dict() for f in self.folders],
            "objects": [o.as_dict() for o in self.objects],
        }


def validate_key(key: str, *, allow_empty: bool = False, what: str = "key") -> str:
    """Return ``key`` if it is a safe object key or prefix, else raise ``InvalidName`` listing every problem.

    Refused: empty (unless ``allow_empty``), leading ``/``, ``.`` or ``..`` segments, control characters,
    more than 1024 UTF-8 bytes (the S3 limit).
    """
    problems: list[str] = []
    if not key and not allow_empty:
        problems.append("must not be empty")
    if key.startswith("/"):
        problems.append("must not start with '/'")
    if any(segment in {".", ".."} for segment in key.split("/")):
        problems.append("must not contain '.' or '..' segments")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        problems.append("must not contain control characters")
    if len(key.encode()) > 1024:
        problems.append("must be at most 1024 bytes")
    if problems:
        raise InvalidName(f"invalid {what} {key!r}", violations=[Violation(what, p) for p in problems])
    return key


class BucketBrowser:
    """Operations on the bucket of ``credentials`` (one project)."""

    def __init__(self, credentials: S3Credentials) -> None:
        self.credentials = credentials
        self.bucket = credentials.bucket
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.credentials.client()
        return self._client

    def list(self, prefix: str = "", *, recursive: bool = False) -> Listing:
        """Folders and objects directly under ``prefix`` (``""`` = bucket root; a missing trailing ``/`` is
        added); ``recursive`` lists every object below it and no folder."""
        prefix = validate_key(prefix, allow_empty=True, what="prefix")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        folders: list[S3Folder] = []
        objects: list[S3Object] = []
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if not recursive:
            arguments["Delimiter"] = "/"
        with _translated(self.bucket, prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(**arguments):
                for common in page.get("CommonPrefixes", []):
                    folder = common["Prefix"]
                    folders.append(S3Folder(folder, folder[len(prefix) :].rstrip("/")))
                for item in page.get("Contents", []):
                    if item["Key"] == prefix:  # a folder marker object
                        continue
                    objects.append(_object(item["Key"], item))
        folders.sort(key=lambda f: f.name)
        objects.sort(key=lambda o: o.key)
        return Listing(self.bucket, prefix, folders, objects)

    def head(self, key: str) -> S3Object:
        """Metadata of one object. Raises ``NotFound``."""
        validate_key(key)
        with _translated(self.bucket, key):
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        return _object(
            key,
            {"Size": response["ContentLength"], "LastModified": response["LastModified"], "ETag": response["ETag"]},
            response.get("ContentType"),
        )

    def existing(self, keys: Sequence[str]) -> dict[str, S3Object]:
        """The objects among ``keys`` that exist now (key -> metadata; what an upload would replace).

        A few keys cost one HEAD each; more cost one listing per folder they are in (a folder upload of a
        thousand files is a few listings, not a thousand requests).

        Raises:
            InvalidName: a key is not a valid object key.
        """
        wanted = {validate_key(key) for key in keys}
        found: dict[str, S3Object] = {}
        if len(wanted) <= _HEAD_AT_MOST:
            for key in sorted(wanted):
                with contextlib.suppress(NotFound):
                    found[key] = self.head(key)
            return found
        folders = sorted({key.rpartition("/")[0] + "/" if "/" in key else "" for key in wanted})
        for folder in folders:
            for item in self.list(folder).objects:
                if item.key in wanted:
                    found[item.key] = item
        return found

    def upload(self, key: str, data: bytes | IO[bytes] | Path, *, content_type: str | None = None) -> S3Object:
        """Write ``data`` (bytes, a binary file object or a local path) to ``key`` (multipart when large)."""
        validate_key(key)
        extra = {"ContentType": content_type} if content_type else None
        with _translated(self.bucket, key):
            if isinstance(data, Path):
                self.client.upload_file(str(data), self.bucket, key, ExtraArgs=extra)
            elif isinstance(data, bytes):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **(extra or {}))
            else:
                self.client.upload_fileobj(data, self.bucket, key, ExtraArgs=extra)
        return self.head(key)

    def download(self, key: str) -> bytes:
        """The whole object. Raises ``NotFound``."""
        validate_key(key)
        with _translated(self.bucket, key):
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def stream(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The object in chunks of ``chunk_size`` bytes (for HTTP responses). Raises ``NotFound`` at once."""
        validate_key(key)
        with _translated(self.bucket, key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

        return chunks()

    def download_to(self, key: str, path: Path) -> Path:
        """Write the object to the local ``path``; returns it."""
        validate_key(key)
        with _translated(self.bucket, key):
            self.client.download_file(self.bucket, key, str(path))
        return path

    def delete(self, key: str) -> None:
        """Delete one object (no error when it does not exist, as S3)."""
        validate_key(key)
        with _translated(self.bucket, key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder); returns how many. An empty prefix is refused."""
        validate_key(prefix, what="prefix")
        keys = [o.key for o in self.list(prefix, recursive=True).objects]
        with _translated(self.bucket, prefix):
            for start in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[start : start + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def presigned_url(self, key: str, *, expires_seconds: int = 3600, method: Literal["get", "put"] = "get") -> str:
        """A URL that reads (``get``) or writes (``put``) ``key`` without credentials for ``expires_seconds``
        (1 s to 7 days, the SigV4 limit)."""
        validate_key(key)
        if not 1 <= expires_seconds <= PRESIGN_MAX_SECONDS:
            raise InvalidName(
                "invalid expiry",
                violations=[Violation("expires_seconds", f"must be between 1 and {PRESIGN_MAX_SECONDS} seconds")],
            )
        operation = "get_object" if method == "get" else "put_object"
        return str(
            self.client.generate_presigned_url(
                operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds
            )
        )


def _object(key: str, item: dict[str, Any], content_type: str | None = None) -> S3Object:
    return S3Object(
        key=key,
        name=key.rstrip("/").rsplit("/", 1)[-1],
        size=int(item.get("Size", 0)),
        last_modified=item["LastModified"],
        etag=str(item.get("ETag", "")).strip('"'),
        content_type=content_type,
    )


@contextlib.contextmanager
def _translated(bucket: str, key: str) -> Iterator[None]:
    """Turn botocore errors into the platform's errors."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in {"NoSuchKey", "404", "NotFound"} or status == 404:
            raise NotFound(f"s3://{bucket}/{key} does not exist") from error
        if code in {"AccessDenied", "403", "Forbidden"} or status == 403:
            raise Forbidden(f"access to s3://{bucket}/{key} is denied") from error
        raise SardonyxError(f"S3 error on s3://{bucket}/{key}: {code or error}") from error
    except EndpointConnectionError as error:
        raise UnavailableError(f"the S3 server does not answer: {error}") from error
    except BotoCoreError as error:
        raise SardonyxError(f"S3 error on s3://{bucket}/{key}: {error}") from error
