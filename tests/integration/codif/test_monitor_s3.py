"""codif monitor on business logs in a real S3 (SeaweedFS): written and uploaded by the API's own writer and
uploader under ``codif/logs/date=.../``, read back by the ``codif`` CLI through DuckDB's httpfs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from codif.forms import Candidate, Form, Prediction
from codif.nomenclature import Nomenclature
from codif.serve.business_log import BusinessLog, S3Uploader
from sardonyx.storage.credentials import S3Credentials

BIN = Path(sys.executable).parent


def _codif(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODIF_SERVE_"))}
    return subprocess.run(
        [str(BIN / "codif"), *args], env=base | env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_monitor_reads_the_uploaded_business_logs(
    s3_project: S3Credentials, real_data: Path, real_nomenclature: Nomenclature, tmp_path: Path
) -> None:
    with (real_data / "labeled" / "sirene_examples_50.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    env = s3_project.environment() | {"AWS_BUCKET_NAME": s3_project.bucket}
    empty = _codif(["monitor", "--data-dir", str(real_data)], env, tmp_path)
    assert empty.returncode == 1
    assert f"error: no business log file (*.jsonl) under s3://{s3_project.bucket}/codif/logs/" in empty.stderr

    first_day = datetime(2026, 11, 2, 8, tzinfo=UTC)
    now = [first_day.timestamp()]
    uploader = S3Uploader(s3_project.client(), s3_project.bucket, "codif/logs")
    log = BusinessLog(tmp_path / "spool", uploader, clock=lambda: now[0], rotate_seconds=3600)
    log.start()
    # 14 days: the first week codes every example with its own code, the second week says "4791A" for a third
    for day in range(14):
        now[0] = (first_day + timedelta(days=day)).timestamp()
        for number, row in enumerate(rows):
            code = "4791A" if day >= 7 and number % 3 == 0 else row["code"]
            ic = 0.9 if number % 2 else 0.4
            prediction = Prediction((Candidate(code, real_nomenclature.label(code), 0.5 + ic / 2),), ic)
            log.record(
                request_id=f"{day}-{number}",
                model_name="codif",
                model_version="1",
                nb_echos_max=1,
                prob_min=0.01,
                forms=[Form(row["text_description"], type_form=row["type_"] or None)],
                predictions=[prediction],
                latency_ms=2.5,
            )
        log.flush(timeout=10)
        log.rotate(timeout=10)  # one file per day, uploaded under its date
    log.stop()
    assert log.status()["pending_files"] == 0, json.dumps(log.status())
    keys = [o["Key"] for o in s3_project.client().list_objects_v2(Bucket=s3_project.bucket)["Contents"]]
    assert len(keys) == 14
    assert all(key.startswith("codif/logs/date=2026-11-") for key in keys)

    result = _codif(["monitor", "--json", "--data-dir", str(real_data), "--level", "subclass"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["source"] == f"s3://{s3_project.bucket}/codif/logs/"
    assert report["window"] == "2026-11-09:2026-11-15"
    assert report["n"] == 7 * len(rows)
    assert report["auto_rate"] == sum(n % 2 for n in range(len(rows))) / len(rows)
    drift = report["drift"]
    assert drift["reference"] == "2026-11-02:2026-11-08"
    assert drift["hellinger"] > 0.2
    assert drift["chi2_p_value"] < 1e-6
    assert drift["biggest_moves"][0]["code"] == "4791A"
    assert drift["ic_ks"] == 0.0  # the IC values are the same both weeks

    page = f"s3://{s3_project.bucket}/codif/reports/week.html"
    alert = _codif(["monitor", "--data-dir", str(real_data), "--max-hellinger", "0.1", "--html", page], env, tmp_path)
    assert alert.returncode == 3
    assert "ALERT: section drift" in alert.stderr
    assert f"HTML report written to {page}" in alert.stderr
    stored = s3_project.client().get_object(Bucket=s3_project.bucket, Key="codif/reports/week.html")
    assert stored["ContentType"] == "text/html"
    assert "<strong>Alert:</strong> section drift" in stored["Body"].read().decode()

    wrong = env | {"AWS_SECRET_ACCESS_KEY": "wrong-secret"}
    refused = _codif(["monitor", "--data-dir", str(real_data)], wrong, tmp_path)
    assert refused.returncode == 1
    assert f"error: cannot read the business logs under s3://{s3_project.bucket}/codif/logs/" in refused.stderr
    assert "Traceback" not in refused.stderr
