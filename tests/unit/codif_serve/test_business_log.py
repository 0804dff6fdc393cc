"""Business logs: JSON lines off the request path, rotation, upload to the date partition, retries."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from codif.forms import Candidate, Form, Prediction
from codif.serve.business_log import (
    BusinessLog,
    S3Uploader,
    business_log_from_settings,
    default_bucket_from_env,
    s3_endpoint_from_env,
)
from codif.serve.settings import ServeSettings

from .conftest import FakeUploader

PREDICTION = Prediction((Candidate("1071C", "Boulangerie", 0.9), Candidate("4724Z", "Pâtisserie", 0.05)), 0.85)


def _record(log: BusinessLog, n: int = 1, rid: str = "r1") -> None:
    log.record(
        request_id=rid,
        model_name="codif",
        model_version="3",
        nb_echos_max=5,
        prob_min=0.01,
        forms=[Form(f"pain {i}", type_form="C") for i in range(n)],
        predictions=[PREDICTION] * n,
        latency_ms=1.23456,
    )


def _wait(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_lines_are_json_with_every_field(tmp_path: Path) -> None:
    log = BusinessLog(tmp_path, None)
    log.start()
    _record(log, 2)
    log.flush()
    [path] = list(tmp_path.glob("*.jsonl.part"))
    text = path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    log.stop()
    assert len(lines) == 2
    assert lines[1] == {
        "timestamp": lines[1]["timestamp"],
        "request_id": "r1",
        "index": 1,
        "batch_size": 2,
        "model_name": "codif",
        "model_version": "3",
        "inputs": {
            "description": "pain 1",
            "type_form": "C",
            "nature": None,
            "surface": None,
            "event": None,
            "cj": None,
        },
        "nb_echos_max": 5,
        "prob_min": 0.01,
        "candidates": [
            {"code": "1071C", "label": "Boulangerie", "probability": 0.9},
            {"code": "4724Z", "label": "Pâtisserie", "probability": 0.05},
        ],
        "ic": 0.85,
        "latency_ms": 1.235,
    }
    assert text.count("Pâtisserie") == 2  # UTF-8, not \\u escapes
    assert log.status()["lines_written"] == 2


def test_stop_closes_the_file_and_nothing_is_lost(tmp_path: Path) -> None:
    log = BusinessLog(tmp_path, None)
    log.start()
    for i in range(500):
        _record(log, rid=f"r{i}")
    log.stop()
    [path] = list(tmp_path.glob("*.jsonl"))
    assert not list(tmp_path.glob("*.part"))
    assert [json.loads(line)["request_id"] for line in path.read_text().splitlines()] == [f"r{i}" for i in range(500)]


def test_files_rotate_by_size(tmp_path: Path) -> None:
    log = BusinessLog(tmp_path, None, rotate_bytes=1000)  # a line is about 400 bytes
    log.start()
    for _ in range(10):
        _record(log)
        log.flush()
    log.stop()
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) >= 3
    assert sum(len(f.read_text().splitlines()) for f in files) == 10


def test_files_rotate_by_age_even_when_idle(tmp_path: Path) -> None:
    uploader = FakeUploader()
    log = BusinessLog(tmp_path, uploader, rotate_seconds=0.1)
    log.start()
    _record(log)
    _wait(lambda: len(uploader.uploaded) == 1)
    log.stop()
    date, name, content = uploader.uploaded[0]
    assert name.startswith(date)
    assert json.loads(content)["request_id"] == "r1"
    assert list(tmp_path.iterdir()) == []  # uploaded files are removed


def test_a_new_utc_day_starts_a_new_file(tmp_path: Path) -> None:
    day = 86400
    now = [(1_800_000_000 // day + 1) * day - 0.5]  # half a second before a UTC midnight
    log = BusinessLog(tmp_path, None, clock=lambda: now[0])
    log.start()
    _record(log, rid="before")
    log.flush()
    now[0] += 1
    _record(log, rid="after")
    log.stop()
    files = sorted(tmp_path.glob("*.jsonl"))
    assert [f.name[:10] for f in files] == ["2027-01-15", "2027-01-16"]
    assert json.loads(files[1].read_text())["request_id"] == "after"


def test_a_failed_upload_keeps_the_file_and_is_retried(tmp_path: Path) -> None:
    uploader = FakeUploader(failures=2)
    log = BusinessLog(tmp_path, uploader, retry_seconds=0.05)
    log.start()
    _record(log)
    log.rotate()
    _wait(lambda: uploader.attempts >= 1)
    assert log.status()["last_upload_error"]["error"] == "S3 is down"
    assert log.status()["pending_files"] == 1
    _wait(lambda: len(uploader.uploaded) == 1)
    status = log.status()
    assert status["last_upload_error"] is None
    assert status["pending_files"] == 0
    assert status["files_uploaded"] == 1
    assert status["last_upload"].startswith("s3://bucket/codif/logs/date=")
    log.stop()
    assert uploader.attempts == 3


def test_files_closed_while_an_upload_runs_at_shutdown_are_uploaded_before_stop_returns(tmp_path: Path) -> None:
    class SlowFirstUpload(FakeUploader):
        """The first upload lasts until stop() has begun (a slow first connection to S3)."""

        def upload(self, path: Path, date: str) -> str:
            if self.attempts == 0:
                _wait(log._stopping.is_set)
            return super().upload(path, date)

    uploader = SlowFirstUpload()
    log = BusinessLog(tmp_path, uploader)
    log.start()
    _record(log, rid="first")
    log.rotate()
    _wait(lambda: uploader.attempts == 0 and log.status()["pending_files"] == 1)
    for rid in ("second", "third"):
        _record(log, rid=rid)
        log.rotate()
    log.stop()
    assert len(uploader.uploaded) == 3
    assert log.status()["pending_files"] == 0


def test_files_left_by_a_dead_process_are_uploaded_at_start(tmp_path: Path) -> None:
    first = BusinessLog(tmp_path, None)
    first.start()
    _record(first, rid="old")
    first.flush()
    # simulate a crash: the open file stays ".part", owned by a pid that no longer exists
    [part] = list(tmp_path.glob("*.jsonl.part"))
    stamp, rest = part.name.split("Z-", 1)
    host_pid_seq = rest.removesuffix(".jsonl.part").rsplit("-", 2)
    orphan = tmp_path / f"{stamp}Z-{host_pid_seq[0]}-999999999-{host_pid_seq[2]}.jsonl.part"
    first._file.close()  # what the kernel does at a crash
    part.rename(orphan)
    first._file = None
    first.stop()
    uploader = FakeUploader()
    second = BusinessLog(tmp_path, uploader)
    second.start()
    _wait(lambda: len(uploader.uploaded) == 1)
    second.stop()
    assert json.loads(uploader.uploaded[0][2])["request_id"] == "old"


def test_the_open_file_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    alive = BusinessLog(tmp_path, None)
    alive.start()
    _record(alive)
    alive.flush()
    [part] = list(tmp_path.glob("*.jsonl.part"))
    stamp, rest = part.name.split("Z-", 1)
    host, _pid, seq = rest.removesuffix(".jsonl.part").rsplit("-", 2)
    other = tmp_path / f"{stamp}Z-{host}-{os.getppid()}-{seq}.jsonl.part"  # our parent: alive
    other.write_text("")
    second = BusinessLog(tmp_path / ".", None)
    second._pid = -1  # another process sharing the directory
    second._recover_open_files()
    assert other.exists()
    alive.stop()
    other.unlink()


def test_s3_uploader_writes_the_date_partition(tmp_path: Path) -> None:
    calls: list[tuple[str, str, str]] = []

    class Client:
        def upload_file(self, filename: str, bucket: str, key: str) -> None:
            calls.append((filename, bucket, key))

    path = tmp_path / "2026-11-23T101500.000000Z-host-1-1.jsonl"
    path.write_text("{}\n")
    where = S3Uploader(Client(), "user-alice", "/codif/logs/").upload(path, "2026-11-23")
    assert where == "s3://user-alice/codif/logs/date=2026-11-23/2026-11-23T101500.000000Z-host-1-1.jsonl"
    assert calls == [(str(path), "user-alice", "codif/logs/date=2026-11-23/" + path.name)]


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({}, None),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:8333"}, "http://127.0.0.1:8333"),
        ({"AWS_ENDPOINT_URL_S3": "http://a:1", "AWS_ENDPOINT_URL": "http://b:2"}, "http://a:1"),
        ({"AWS_S3_ENDPOINT": "minio.lab.sspcloud.fr"}, "https://minio.lab.sspcloud.fr"),
        ({"AWS_S3_ENDPOINT": "127.0.0.1:8333"}, "http://127.0.0.1:8333"),
        ({"AWS_S3_ENDPOINT": "localhost:9000"}, "http://localhost:9000"),
        ({"AWS_S3_ENDPOINT": "http://s3.internal:80"}, "http://s3.internal:80"),
    ],
)
def test_s3_endpoint_from_the_platform_environment(env: dict[str, str], endpoint: str | None) -> None:
    assert s3_endpoint_from_env(env) == endpoint


@pytest.mark.parametrize(
    ("env", "bucket"),
    [
        ({}, None),
        ({"AWS_WORKING_DIRECTORY_PATH": "user-alice/"}, "user-alice"),
        ({"AWS_WORKING_DIRECTORY_PATH": "projet-ape/diffusion/"}, "projet-ape"),
        ({"AWS_BUCKET_NAME": "projet-ape"}, "projet-ape"),
    ],
)
def test_default_bucket_from_the_platform_environment(env: dict[str, str], bucket: str | None) -> None:
    assert default_bucket_from_env(env) == bucket


def test_business_log_from_settings(tmp_path: Path) -> None:
    settings = ServeSettings(logs_dir=tmp_path, logs_prefix="codif/logs")
    env = {
        "AWS_WORKING_DIRECTORY_PATH": "user-alice/",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    log = business_log_from_settings(settings, env)
    assert log.status()["destination"] == "s3://user-alice/codif/logs/"
    assert business_log_from_settings(settings, {}).status()["destination"] is None
    explicit = ServeSettings(logs_dir=tmp_path, logs_bucket="elsewhere")
    assert business_log_from_settings(explicit, env).status()["destination"] == "s3://elsewhere/codif/logs/"


def test_a_disk_that_fails_loses_lines_not_the_writer(tmp_path: Path) -> None:
    log = BusinessLog(tmp_path / "logs", None)
    log.start()
    _record(log, rid="before")
    log.flush()
    [part] = list((tmp_path / "logs").glob("*.part"))
    log._file.close()  # the next write fails with ValueError (closed file), as a full disk would with OSError
    _record(log, 2, rid="lost")
    log.flush()
    status = log.status()
    assert status["lines_lost"] == 2
    assert status["last_write_error"] is not None
    _record(log, rid="after")  # a new file is opened
    log.stop()
    texts = [p.read_text() for p in (tmp_path / "logs").glob("*.jsonl")]
    assert sum("after" in t for t in texts) == 1
    assert part.with_name(part.name.removesuffix(".part")).exists()
