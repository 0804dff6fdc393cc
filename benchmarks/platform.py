"""Platform benchmarks: ``python -m benchmarks.platform [--runs N] [--requests N]``.

Targets (issue 3):

- ``sardonyx up`` to a ready API under 3 s, median of warm runs: wall time of the real command (``sardonyx up``
  as a user types it: CLI start, daemon start, SeaweedFS start, catalog load, runtime re-attachment, until the
  health check answers 200), with a data directory that already exists (warm: one untimed up/down first).
  Each run is followed by ``sardonyx down``.
- ``GET /my-lab/services`` with 50 services under 30 ms p99: the real platform process (HTTP, SQLite state store,
  service layer) with the ``fake`` runtime (``SARDONYX_REGION__RUNTIME=fake``: statuses come from memory, no
  processes), 50 services launched through ``PUT /my-lab/app`` from the built-in catalog (values computed, S3
  credentials issued by the real embedded SeaweedFS), then ``--requests`` sequential GETs on one connection.
- launch-to-ready of ``jupyter-python`` through the platform, its environment already built, under 4 s: from
  ``PUT /my-lab/app`` (values computed, S3 credentials in the context) to the ``ready`` event of
  ``GET /services/{id}/progress`` (the readiness probe on ``/api/status`` passed), local runtime; the service is
  deleted after each run. The environment is built (or found) by one untimed launch first.
- the platform's own memory under 200 MB RSS: resident set of the platform process alone (API + runtime
  supervisor; not SeaweedFS, not services), measured idle after ``up`` with the local runtime, and after the 50
  launches and the listing above.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from benchmarks._common import Figure, percentile, report
from sardonyx.auth import auth_headers
from sardonyx.ports import free_ports
from sardonyx.settings import SeaweedFSPorts

SARDONYX = str(Path(sys.executable).parent / "sardonyx")
MB = 1024 * 1024


def platform_env(data_dir: Path, **extra: str) -> dict[str, str]:
    ports = free_ports(11)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SARDONYX_")}
    env |= {"SARDONYX_DATA_DIR": str(data_dir), "SARDONYX_LOGIN": "bench", "SARDONYX_PORT": str(ports[0])}
    for name, port in zip(SeaweedFSPorts.model_fields, ports[1:], strict=True):
        env[f"SARDONYX_S3__PORTS__{name.upper()}"] = str(port)
    return env | extra


def cli(env: dict[str, str], *args: str) -> float:
    """Run ``sardonyx ARGS``; returns its wall time in seconds (raises when it fails)."""
    begin = time.perf_counter()
    result = subprocess.run([SARDONYX, *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - begin
    if result.returncode != 0:
        raise RuntimeError(f"sardonyx {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return elapsed


def platform_rss(data_dir: Path) -> float:
    """RSS of the platform process alone, in MB."""
    pid = json.loads((data_dir / "platform.json").read_text())["pid"]
    return float(psutil.Process(pid).memory_info().rss) / MB


def bench_up(runs: int) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="sardonyx-bench-up-") as tmp:
        env = platform_env(Path(tmp))
        cli(env, "up")  # warm-up: creates the data directory, the S3 admin keys, the catalog cache
        cli(env, "down")
        timings: list[float] = []
        memory: list[float] = []
        for _ in range(runs):
            timings.append(cli(env, "up"))
            time.sleep(1.0)  # let start-up allocations settle before reading the RSS
            memory.append(platform_rss(Path(tmp)))
            cli(env, "down")
    print(f"sardonyx up runs (s): {', '.join(f'{t:.2f}' for t in timings)}")
    return [
        Figure("sardonyx up to a ready API (warm)", statistics.median(timings), "s", target=3.0, runs=runs),
        Figure("platform memory, idle, local runtime (RSS)", statistics.median(memory), "MB", target=200, runs=runs),
    ]


def bench_launch(runs: int) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="sardonyx-bench-launch-") as tmp:
        env = platform_env(Path(tmp))
        cli(env, "up")
        timings: list[float] = []
        try:
            url = f"http://127.0.0.1:{env['SARDONYX_PORT']}"
            headers = auth_headers(Path(tmp))  # the API token `sardonyx up` created in the data directory
            with httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=900), headers=headers) as client:
                for run in range(runs + 1):
                    begin = time.perf_counter()
                    body = {"catalogId": "builtin", "packageName": "jupyter-python"}
                    service_id = client.put("/my-lab/app", json=body).raise_for_status().json()["id"]
                    last = ""
                    with client.stream("GET", f"/services/{service_id}/progress") as stream:
                        for line in stream.iter_lines():
                            if line.startswith("data: "):
                                last = json.loads(line[6:])["kind"]
                    elapsed = time.perf_counter() - begin
                    if last != "ready":
                        raise RuntimeError(f"jupyter-python did not become ready: {last}")
                    if run > 0:  # the first launch builds (or finds) the environment
                        timings.append(elapsed)
                    client.delete("/my-lab/app", params={"path": service_id}).raise_for_status()
        finally:
            cli(env, "down")
    print(f"jupyter-python launch-to-ready runs (s): {', '.join(f'{t:.2f}' for t in timings)}")
    return [
        Figure(
            "jupyter-python launch-to-ready through the API (env built)",
            statistics.median(timings),
            "s",
            target=4.0,
            runs=runs,
        )
    ]


def bench_services(requests: int, services: int = 50) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="sardonyx-bench-list-") as tmp:
        env = platform_env(Path(tmp), SARDONYX_REGION__RUNTIME="fake")
        cli(env, "up")
        try:
            url = f"http://127.0.0.1:{env['SARDONYX_PORT']}"
            with httpx.Client(base_url=url, timeout=60, headers=auth_headers(Path(tmp))) as client:
                charts = ["jupyter-python", "mlflow", "python-job", "python-api"]
                for index in range(services):
                    body = {"catalogId": "builtin", "packageName": charts[index % 4], "friendlyName": f"s{index}"}
                    client.put("/my-lab/app", json=body).raise_for_status()
                apps = client.get("/my-lab/services").json()["apps"]
                assert len(apps) == services, len(apps)
                for _ in range(20):  # warm-up
                    client.get("/my-lab/services").raise_for_status()
                latencies: list[float] = []
                for _ in range(requests):
                    begin = time.perf_counter()
                    response = client.get("/my-lab/services")
                    latencies.append((time.perf_counter() - begin) * 1000)
                    response.raise_for_status()
            memory = platform_rss(Path(tmp))
        finally:
            cli(env, "down")
    print(f"GET /my-lab/services with {services} services: p50 {percentile(latencies, 50):.1f} ms, "
          f"p90 {percentile(latencies, 90):.1f} ms, p99 {percentile(latencies, 99):.1f} ms")  # fmt: skip
    return [
        Figure(
            f"GET /my-lab/services, {services} services, fake runtime (p99)",
            percentile(latencies, 99),
            "ms",
            target=30,
            runs=requests,
        ),
        Figure(f"GET /my-lab/services, {services} services (p50)", statistics.median(latencies), "ms", runs=requests),
        Figure(f"platform memory after {services} launches and {requests} listings (RSS)", memory, "MB", target=200),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed `sardonyx up` runs (default 5)")
    parser.add_argument("--requests", type=int, default=300, help="timed GET /my-lab/services (default 300)")
    parser.add_argument("--launches", type=int, default=3, help="timed jupyter-python launches (default 3)")
    args = parser.parse_args()
    figures = bench_up(args.runs) + bench_services(args.requests) + bench_launch(args.launches)
    sys.exit(0 if report("platform", figures) else 1)


if __name__ == "__main__":
    main()
