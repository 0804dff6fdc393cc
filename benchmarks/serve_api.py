"""Model API benchmarks: ``python -m benchmarks.serve_api [--tracking-uri URI] [--model-uri URI]``.

Targets (issue 5), one ``codif serve`` process (one uvicorn worker) on 127.0.0.1 serving the real codif model:

- single predictions (``GET /predict``) at 200 requests/s for 60 s: p50 under 3 ms, p99 under 15 ms, no error;
- a batch of 1,000 forms (``POST /predict``) under 150 ms;
- memory under 500 MB RSS (measured after the load, and the process's peak);
- start-up, from launching the process to ``/health`` answering (Python start, imports, model resolution,
  download and load), under 5 s; the download-and-load part alone is reported too.

Load generator for the single predictions: ``benchmarks/serve_loadgen.py``, a small open-loop generator in
Python (asyncio on uvloop, 8 keep-alive connections): request ``i`` leaves at ``start + i / rate`` whatever the
server does, so a slow answer cannot hold back the next requests and hide itself ("coordinated omission"), which
closed-loop tools do (Debian's ``hey`` and ``wrk``; ``wrk2`` and ``vegeta``, the open-loop ones, are not
packaged). Sending 200 requests/s costs it about a tenth of a core. The batches are timed from Python (httpx, one
keep-alive connection): what matters there is the latency of one large request, not a rate.

Inputs are real: the single request is the longest of the 50 Sirene examples with its side fields; the batches
are 1,000 forms of ``labeled/gold_dev.csv`` (real 2023-24 Sirene forms) with their side fields.

The model comes from the MLflow server in ``--tracking-uri`` (default ``MLFLOW_TRACKING_URI``) at ``--model-uri``
(default ``models:/codif@champion``), e.g. after ``codif train`` and ``codif promote``. Without a tracking URI (or
with ``--train``), the production-like model is trained first into a temporary MLflow (SQLite; 21 s here):
``codif data build --expert labeled/gold_dev.csv`` then ``codif train`` on that corpus, served at the version it
registers. Every figure is the median over ``--runs`` runs (the load test: medians of each run's p50 and p99).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from benchmarks import serve_loadgen
from benchmarks._common import Figure, percentile, report
from sardonyx.ports import free_port
from sardonyx.settings import REPO_ROOT

DATA = (REPO_ROOT.parent / "shared" / "data").resolve()
BIN = Path(sys.executable).parent


def _single_query() -> dict[str, str]:
    with (DATA / "labeled" / "sirene_examples_50.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    row = max(rows, key=lambda r: len(r["text_description"]))
    query = {
        "description": row["text_description"],
        "type_form": row["type_"],
        "nature": row["nature"],
        "surface": row["surface"],
        "event": row["event"],
    }
    return {k: v for k, v in query.items() if v}


def _batch_forms(count: int) -> list[dict[str, str]]:
    with (DATA / "labeled" / "gold_dev.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if any(ch.isalpha() for ch in r["text"])]
    forms = []
    for i in range(count):
        row = rows[i % len(rows)]
        form = {
            "description": row["text"],
            "type_form": row["liasse_type"],
            "nature": row["activ_nat_et"],
            "event": row["evenement_type"],
            "cj": row["cj"],
        }
        forms.append({k: v for k, v in form.items() if v})
    return forms


class Server:
    """One ``codif serve`` process on a free port; ``started_in`` is launch-to-/health in seconds."""

    def __init__(self, workdir: Path, env: dict[str, str], model_uri: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"serve-{self.port}.log"
        command = [str(BIN / "codif"), "serve", "--port", str(self.port), "--model-uri", model_uri]
        started = time.perf_counter()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True
            )
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"codif serve exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                health = httpx.get(f"{self.url}/health", timeout=1, trust_env=False)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        self.started_in = time.perf_counter() - started
        self.health = health.json()

    def rss_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the server process, in MB."""
        process = psutil.Process(self.process.pid)
        current = process.memory_info().rss / 1e6
        peak = current
        status = Path(f"/proc/{self.process.pid}/status")
        if status.is_file():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024 / 1e6
        return current, peak

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def measure_startup(workdir: Path, env: dict[str, str], model_uri: str, runs: int) -> list[Figure]:
    startups, loads = [], []
    for _ in range(runs + 1):  # the first start warms the OS file cache; it is not counted
        server = Server(workdir, env, model_uri)
        startups.append(server.started_in)
        loads.append(server.health["model"]["load_seconds"])
        server.stop()
    model = server.health["model"]
    print(f"model: {model['name']} version {model['version']} ({model_uri})")
    return [
        Figure("start-up, launch to /health", statistics.median(startups[1:]), "s", 5.0, runs=runs),
        Figure("start-up, model resolve+download+load", statistics.median(loads[1:]), "s", runs=runs),
    ]


def measure_single(server: Server, client: httpx.Client, runs: int, duration: int, rate: int) -> list[Figure]:
    url = str(httpx.URL(f"{server.url}/predict", params=_single_query()))
    for _ in range(200):  # warm-up
        client.get(url).raise_for_status()
    p50s, p99s, rates, failures = [], [], [], 0
    for _ in range(runs):
        result = serve_loadgen.run(url, rate=rate, duration=duration)
        p50s.append(round(percentile(result.latencies, 50), 2))
        p99s.append(round(percentile(result.latencies, 99), 2))
        rates.append(round(result.rate, 1))
        failures += result.failures
    print(f"load runs of {duration} s: {rates} answers/s; p50 {p50s} ms; p99 {p99s} ms; failures {failures}")
    return [
        Figure("single predictions, answers per second", statistics.median(rates), "req/s", 0.99 * rate, False),
        Figure(f"single predictions at {rate}/s, p50", statistics.median(p50s), "ms", 3.0, runs=runs),
        Figure(f"single predictions at {rate}/s, p99", statistics.median(p99s), "ms", 15.0, runs=runs),
        Figure("single predictions, errors and non-200 answers (all runs)", failures, "requests", 0),
    ]


def measure_batch(client: httpx.Client, runs: int) -> list[Figure]:
    batch = {"forms": _batch_forms(1000)}
    for _ in range(3):
        client.post("/predict", json=batch).raise_for_status()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.post("/predict", json=batch)
        timings.append(time.perf_counter() - started)
        answer.raise_for_status()
        if len(answer.json()["predictions"]) != 1000:
            raise SystemExit("the batch answer does not hold 1,000 predictions")
    return [
        Figure("batch of 1,000 forms", statistics.median(timings) * 1000, "ms", 150.0, runs=runs),
        Figure("batch of 1,000 forms, p90", percentile(timings, 90) * 1000, "ms", runs=runs),
    ]


def train_model(workdir: Path, env: dict[str, str]) -> tuple[str, str]:
    """Train the production-like model (nomenclature corpus + the expert forms) into a SQLite MLflow in ``workdir``.

    Returns (tracking URI, the registered version's ``models:/codif/<n>``); exits when a step fails.
    """
    workdir.mkdir(parents=True)
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    steps = [
        ["data", "build", "--expert", str(DATA / "labeled" / "gold_dev.csv"), "--out", "full.parquet"],
        ["train", "--data", "full.parquet"],
    ]
    started = time.perf_counter()
    print(f"no MLflow given: training the production-like model into {tracking_uri} ...", flush=True)
    output = ""
    for step in steps:
        result = subprocess.run(
            [str(BIN / "codif"), *step],
            env=env | {"MLFLOW_TRACKING_URI": tracking_uri},
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"codif {' '.join(step)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        output = result.stdout
    found = re.search(r"models:/codif/\d+", output)
    if found is None:
        raise SystemExit(f"codif train printed no model URI:\n{output[-2000:]}")
    print(f"trained {found.group(0)} in {time.perf_counter() - started:.0f} s", flush=True)
    return tracking_uri, found.group(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    parser.add_argument("--model-uri", default="models:/codif@champion")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure (medians reported)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of each load run")
    parser.add_argument("--rate", type=int, default=200, help="requests per second of the load runs")
    parser.add_argument(
        "--train",
        action="store_true",
        help="train the production-like model into a temporary MLflow first (the default without a tracking URI)",
    )
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODIF_SERVE_", "MLFLOW_"))}
    env["CODIF_SERVE_POLL_SECONDS"] = "0"
    with tempfile.TemporaryDirectory(prefix="codif-bench-serve-") as tmp:
        workdir = Path(tmp)
        if args.train or not args.tracking_uri:
            args.tracking_uri, args.model_uri = train_model(workdir / "training", env)
        env["MLFLOW_TRACKING_URI"] = args.tracking_uri
        env["CODIF_SERVE_LOGS_DIR"] = str(workdir / "business-logs")
        figures = measure_startup(workdir, env, args.model_uri, args.runs)
        server = Server(workdir, env, args.model_uri)
        try:
            with httpx.Client(base_url=server.url, trust_env=False, timeout=60) as client:
                figures += measure_single(server, client, args.runs, args.duration, args.rate)
                figures += measure_batch(client, max(10, args.runs))
            current, peak = server.rss_mb()
            figures.append(Figure("memory after the load (RSS)", current, "MB", 500.0))
            figures.append(Figure("memory, peak RSS", peak, "MB", 500.0))
        finally:
            server.stop()
    return 0 if report("serve_api", figures) else 1


if __name__ == "__main__":
    sys.exit(main())
