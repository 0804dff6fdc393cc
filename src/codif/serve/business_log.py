"""Business logs: one JSON line per prediction, written off the request path and shipped to S3.

Insee's API wrote one ``{'Query': ..., 'Response': ...}`` line per prediction to a log file, parsed nightly
into date-partitioned Parquet for the monitoring dashboard (CODIF-APE-REFERENCE.md sections 5.1 and 6.1). Here
each line is JSON, so that the monitoring reads it directly (DuckDB ``read_json``)::

    {"timestamp": "2026-11-23T10:15:02.123456+00:00", "request_id": "5f0c...", "index": 0, "batch_size": 1,
     "model_name": "codif", "model_version": "3",
     "inputs": {"description": "BOULANGERIE", "type_form": "C", "nature": null, "surface": null,
                "event": "01P", "cj": null},
     "nb_echos_max": 5, "prob_min": 0.01,
     "candidates": [{"code": "1071C", "label": "Boulangerie et boulangerie-pâtisserie", "probability": 0.97}],
     "ic": 0.95, "latency_ms": 0.84}

``index`` is the form's position in its request (``batch_size`` forms); ``latency_ms`` is the time the API
spent computing the whole request's answer (validation done, model and post-processing; not the network).

The request handler only puts one tuple on a queue; a writer thread formats the lines and appends them to
``<logs_dir>/<first timestamp>-<host>-<pid>-<n>.jsonl.part``. A file is closed (renamed ``.jsonl``) when it
reaches ``rotate_bytes``, is ``rotate_seconds`` old, or the UTC date changes, so every file holds one day. An
uploader thread sends closed files to ``s3://<bucket>/<prefix>/date=YYYY-MM-DD/<file>.jsonl`` and deletes them
only once S3 has them: when S3 fails the file stays and is retried (delay doubling from ``retry_seconds`` up to
ten times that), and files left by a previous run are sent at start-up. Nothing is lost when S3 is down; at
most the lines of the last few milliseconds are lost if the process is killed.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psutil
from pydantic_core import to_json

from codif.forms import Form, Prediction

if TYPE_CHECKING:
    from codif.serve.settings import ServeSettings

logger = logging.getLogger("codif.serve.business_log")

_OPEN_SUFFIX = ".jsonl.part"
_CLOSED_SUFFIX = ".jsonl"


@dataclass(frozen=True, slots=True)
class _Entry:
    """What a request hands to the writer: everything needed to format its lines later."""

    timestamp: float
    request_id: str
    model_name: str
    model_version: str
    nb_echos_max: int
    prob_min: float
    forms: Sequence[Form]
    predictions: Sequence[Prediction]
    latency_ms: float


_STOP = object()


class Uploader(Protocol):
    """Sends one closed log file to object storage; raises on failure."""

    destination: str

    def upload(self, path: Path, date: str) -> str:
        """Upload ``path`` into the ``date`` (YYYY-MM-DD) partition; return where it went."""
        ...


class S3Uploader:
    """Uploads to ``s3://<bucket>/<prefix>/date=<date>/<file name>`` with a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.destination = f"s3://{bucket}/{self.prefix}/"

    def upload(self, path: Path, date: str) -> str:
        key = f"{self.prefix}/date={date}/{path.name}" if self.prefix else f"date={date}/{path.name}"
        self._client.upload_file(str(path), self.bucket, key)
        return f"s3://{self.bucket}/{key}"


def s3_endpoint_from_env(env: Mapping[str, str]) -> str | None:
    """The S3 endpoint URL from the variables the platform (and Onyxia's charts) inject.

    ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (boto3's own, with a scheme) first, then Onyxia's
    ``AWS_S3_ENDPOINT`` (a host, ``minio.lab.sspcloud.fr``, or ``host:port``): ``https://`` is added unless the
    host is a loopback address, which gets ``http://``. None: boto3's default (AWS).
    """
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        if env.get(name):
            return env[name]
    host = env.get("AWS_S3_ENDPOINT", "").strip()
    if not host:
        return None
    if "://" in host:
        return host
    bare = host.split(":", 1)[0]
    local = bare in ("localhost", "::1") or bare.startswith("127.")
    return f"{'http' if local else 'https'}://{host}"


def default_bucket_from_env(env: Mapping[str, str]) -> str | None:
    """The project bucket the platform gives a service: first segment of ``AWS_WORKING_DIRECTORY_PATH``
    (Onyxia's library chart, ``user-alice/`` or ``projet-ape/prefix``), else ``AWS_BUCKET_NAME``."""
    working = env.get("AWS_WORKING_DIRECTORY_PATH", "").strip().strip("/")
    if working:
        return working.split("/", 1)[0]
    return env.get("AWS_BUCKET_NAME") or None


def s3_client_from_env(env: Mapping[str, str]) -> Any:
    """A boto3 S3 client for the endpoint in ``env``; keys and region come from boto3's usual chain
    (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``).
    Path-style addressing when an endpoint is given (MinIO, SeaweedFS), unless ``AWS_PATH_STYLE_ACCESS=false``."""
    import boto3
    from botocore.config import Config

    endpoint = s3_endpoint_from_env(env)
    path_style = endpoint is not None and env.get("AWS_PATH_STYLE_ACCESS", "true").lower() != "false"
    config = Config(
        s3={"addressing_style": "path"} if path_style else {},
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    region = env.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)


class BusinessLog:
    """The business log writer and its uploader (two daemon threads; :meth:`start` and :meth:`stop`).

    Args:
        directory: where files are written (created if missing); one process per directory.
        uploader: where closed files go; None keeps them in ``directory``.
        rotate_seconds: a file is closed at the latest this old (seconds).
        rotate_bytes: a file is closed when it reaches this size.
        retry_seconds: first delay before retrying a failed upload; doubles up to ten times this.
        clock: seconds since the epoch (tests move it across a UTC midnight).
    """

    def __init__(
        self,
        directory: Path,
        uploader: Uploader | None,
        *,
        rotate_seconds: float = 300.0,
        rotate_bytes: int = 16 * 1024 * 1024,
        retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self._clock = clock
        self._uploader = uploader
        self._rotate_seconds = rotate_seconds
        self._rotate_bytes = rotate_bytes
        self._retry_seconds = retry_seconds
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname()) or "host"
        self._pid = os.getpid()
        self._seq = 0
        self._file: Any = None
        self._file_path: Path | None = None
        self._file_date = ""
        self._file_opened = 0.0
        self._file_bytes = 0
        self._closed = threading.Event()  # a file was closed: wake the uploader
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None
        self._shipper: threading.Thread | None = None
        self._lock = threading.Lock()
        self.lines_written = 0
        self.lines_lost = 0
        self.last_write_error: dict[str, str] | None = None
        self.files_uploaded = 0
        self.last_upload: str | None = None
        self.last_upload_error: dict[str, str] | None = None

    # -- the request side -------------------------------------------------------------------------------------

    def record(
        self,
        *,
        request_id: str,
        model_name: str,
        model_version: str,
        nb_echos_max: int,
        prob_min: float,
        forms: Sequence[Form],
        predictions: Sequence[Prediction],
        latency_ms: float,
    ) -> None:
        """Queue one request's predictions (``forms[i]`` answered by ``predictions[i]``); returns at once."""
        self._queue.put(
            _Entry(
                self._clock(),
                request_id,
                model_name,
                model_version,
                nb_echos_max,
                prob_min,
                forms,
                predictions,
                latency_ms,
            )
        )

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the directory, mark files left open by a dead process as closed, start both threads."""
        self._stopping.clear()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._recover_open_files()
        self._writer = threading.Thread(target=self._write_loop, name="codif-business-log-writer", daemon=True)
        self._writer.start()
        if self._uploader is not None:
            if self._closed_files():
                self._closed.set()  # files from a previous run: send them now
            self._shipper = threading.Thread(target=self._ship_loop, name="codif-business-log-uploader", daemon=True)
            self._shipper.start()
        elif self._closed_files():
            logger.warning("no S3 bucket for the business logs: %d files stay in %s", len(self._closed_files()), self)

    def stop(self, upload_timeout: float = 10.0) -> None:
        """Write every queued line, close the file, try to upload what is pending for ``upload_timeout`` s."""
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join()
            self._writer = None
        self._stopping.set()
        self._closed.set()
        if self._shipper is not None:
            self._shipper.join(upload_timeout)
            self._shipper = None
        pending = self._closed_files()
        if pending and self._uploader is not None:
            logger.warning("%d business log files not uploaded yet stay in %s (sent at next start)", len(pending), self)
        elif pending:
            logger.info("%d business log files in %s (no S3 bucket configured)", len(pending), self)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every line queued so far is written to the open file (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def rotate(self, timeout: float = 5.0) -> None:
        """Close the open file now (it becomes ready for upload) and wait until that is done."""
        done = threading.Event()
        self._queue.put(("rotate", done))
        done.wait(timeout)

    def status(self) -> dict[str, Any]:
        """What /health shows about the business logs."""
        with self._lock:
            return {
                "directory": str(self.directory),
                "destination": self._uploader.destination if self._uploader else None,
                "lines_written": self.lines_written,
                "lines_lost": self.lines_lost,
                "last_write_error": self.last_write_error,
                "pending_files": len(self._closed_files()),
                "files_uploaded": self.files_uploaded,
                "last_upload": self.last_upload,
                "last_upload_error": self.last_upload_error,
            }

    def __str__(self) -> str:
        return str(self.directory)

    # -- writer thread ----------------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            timeout = None
            if self._file is not None:
                timeout = max(0.0, self._file_opened + self._rotate_seconds - self._clock())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._close_file()
                continue
            stop = False
            while True:  # write everything queued, then flush once
                if item is _STOP:
                    stop = True
                elif isinstance(item, _Entry):
                    self._write_safely(item)
                elif isinstance(item, threading.Event):
                    self._flush_file()
                    item.set()
                elif isinstance(item, tuple):
                    self._close_file()
                    item[1].set()
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._flush_file()
            if self._file is not None and (
                self._file_bytes >= self._rotate_bytes or self._clock() - self._file_opened >= self._rotate_seconds
            ):
                self._close_file()
            if stop:
                self._close_file()
                return

    def _write_safely(self, entry: _Entry) -> None:
        """Write one request's lines; a disk that fails loses those lines (counted, reported), never the thread."""
        try:
            self._write_entry(entry)
        except Exception as exc:  # a writer that dies would let the queue grow without bound
            with self._lock:
                first = self.last_write_error is None
                self.lines_lost += len(entry.forms)
                self.last_write_error = {"error": " ".join(str(exc).split()), "at": datetime.now(UTC).isoformat()}
            if first:
                logger.exception("cannot write the business logs to %s", self.directory)
            else:
                logger.error("cannot write the business logs to %s: %s", self.directory, exc)
            self._close_file()  # what was written stays for upload; the next line opens a new file

    def _write_entry(self, entry: _Entry) -> None:
        stamp = datetime.fromtimestamp(entry.timestamp, UTC)
        date = stamp.date().isoformat()
        if self._file is not None and date != self._file_date:
            self._close_file()
        if self._file is None:
            self._open_file(stamp)
        iso = stamp.isoformat(timespec="microseconds")
        size = len(entry.forms)
        latency = round(entry.latency_ms, 3)
        lines: list[bytes] = []
        for index, (form, prediction) in enumerate(zip(entry.forms, entry.predictions, strict=True)):
            lines.append(
                to_json(
                    {
                        "timestamp": iso,
                        "request_id": entry.request_id,
                        "index": index,
                        "batch_size": size,
                        "model_name": entry.model_name,
                        "model_version": entry.model_version,
                        "inputs": {
                            "description": form.description,
                            "type_form": form.type_form,
                            "nature": form.nature,
                            "surface": form.surface,
                            "event": form.event,
                            "cj": form.cj,
                        },
                        "nb_echos_max": entry.nb_echos_max,
                        "prob_min": entry.prob_min,
                        "candidates": [
                            {"code": c.code, "label": c.label, "probability": c.probability}
                            for c in prediction.candidates
                        ],
                        "ic": prediction.ic,
                        "latency_ms": latency,
                    },
                )
            )
        data = b"\n".join(lines) + b"\n"
        self._file.write(data)
        self._file_bytes += len(data)
        with self._lock:
            self.lines_written += size

    def _open_file(self, stamp: datetime) -> None:
        self._seq += 1
        name = f"{stamp.strftime('%Y-%m-%dT%H%M%S.%fZ')}-{self._host}-{self._pid}-{self._seq}"
        self._file_path = self.directory / (name + _OPEN_SUFFIX)
        self._file = self._file_path.open("ab")
        self._file_date = stamp.date().isoformat()
        self._file_opened = self._clock()
        self._file_bytes = 0

    def _flush_file(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as exc:  # disk full: keep the lines in the buffer, say it once per flush
                logger.error("cannot write the business log %s: %s", self._file_path, exc)

    def _close_file(self) -> None:
        if self._file is None or self._file_path is None:
            return
        try:
            self._file.close()
        except (OSError, ValueError) as exc:  # buffered lines that cannot be written (disk full) are lost
            logger.error("cannot write the end of the business log %s: %s", self._file_path, exc)
        try:
            self._file_path.rename(_closed_name(self._file_path))
        except OSError as exc:  # left ".part": the next start closes it and sends it
            logger.error("cannot close the business log %s: %s", self._file_path, exc)
        self._file = None
        self._file_path = None
        self._closed.set()

    def _recover_open_files(self) -> None:
        for path in self.directory.glob("*" + _OPEN_SUFFIX):
            parts = path.name.removesuffix(_OPEN_SUFFIX).rsplit("-", 2)
            owner_alive = (
                len(parts) == 3
                and parts[1].isdigit()
                and parts[0].endswith("-" + self._host)
                and int(parts[1]) != self._pid
                and psutil.pid_exists(int(parts[1]))
            )
            if not owner_alive:
                path.rename(_closed_name(path))
                logger.info("business log %s left open by a previous run: closed, to upload", path.name)

    # -- uploader thread --------------------------------------------------------------------------------------

    def _closed_files(self) -> list[Path]:
        try:
            return sorted(self.directory.glob("*" + _CLOSED_SUFFIX))
        except OSError:
            return []

    def _ship_loop(self) -> None:
        failures = 0
        while True:
            if failures:  # woken early by a newly closed file or by stop()
                self._closed.wait(min(self._retry_seconds * 2 ** (failures - 1), self._retry_seconds * 10))
            else:
                self._closed.wait()
            self._closed.clear()
            # read before the pass: files closed while an upload runs at shutdown get one more pass
            stopping = self._stopping.is_set()
            failures = 0 if self._ship_pending() else failures + 1
            if stopping:
                return

    def _ship_pending(self) -> bool:
        if self._uploader is None:
            return False
        for path in self._closed_files():
            date = path.name[:10]
            try:
                where = self._uploader.upload(path, date)
            except Exception as exc:  # S3 down, bad keys, ...: keep the file, retry later
                message = " ".join(str(exc).split()) or type(exc).__name__
                with self._lock:
                    first = self.last_upload_error is None
                    self.last_upload_error = {
                        "file": path.name,
                        "error": message,
                        "at": datetime.now(UTC).isoformat(),
                    }
                (logger.error if first else logger.warning)(
                    "cannot upload business log %s to %s (kept, will retry): %s",
                    path.name,
                    self._uploader.destination,
                    message,
                )
                return False
            path.unlink(missing_ok=True)
            with self._lock:
                self.files_uploaded += 1
                self.last_upload = where
                if self.last_upload_error is not None:
                    logger.info("business log uploads work again (%s)", where)
                self.last_upload_error = None
        return True


def _closed_name(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(_OPEN_SUFFIX) + _CLOSED_SUFFIX)


def business_log_from_settings(settings: ServeSettings, env: Mapping[str, str]) -> BusinessLog:
    """The business log of ``settings``, uploading to ``settings.logs_bucket`` (or the project bucket found in
    ``env``, see :func:`default_bucket_from_env`) through the S3 endpoint in ``env``; no bucket: files stay."""
    bucket = settings.logs_bucket or default_bucket_from_env(env)
    uploader = S3Uploader(s3_client_from_env(env), bucket, settings.logs_prefix) if bucket else None
    if uploader is None:
        logger.warning(
            "no S3 bucket for the business logs (set CODIF_SERVE_LOGS_BUCKET): they stay in %s", settings.logs_dir
        )
    return BusinessLog(
        settings.logs_dir,
        uploader,
        rotate_seconds=settings.logs_rotate_seconds,
        rotate_bytes=settings.logs_rotate_bytes,
        retry_seconds=settings.logs_retry_seconds,
    )
