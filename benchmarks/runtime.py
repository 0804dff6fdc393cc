"""Local runtime benchmarks: ``python -m benchmarks.runtime [--runs N]``.

Targets (issue 3): launch-to-ready of ``jupyter-python`` with its environment already built under 4 s, and the
platform's own overhead under 0.5 s: that time minus a raw ``jupyter lab`` start-to-ready measured in the same
run (same environment, same arguments, same token, probed every 10 ms), medians over several runs.

- launch-to-ready: from ``LocalRuntime.start`` to the ``ready`` progress event (the readiness probe on
  ``/api/status`` with the token passed), values from the built-in chart computed by the catalog engine.
- raw: ``Popen(jupyter lab ...)`` to the first 200 from ``/api/status``.
The two are interleaved, in alternating order, so machine noise hits both alike; the overhead is the median
over runs of (launch-to-ready minus the raw start of the same run), robust to the load other processes put on
the machine between runs. The environment is built (or found) once first. Also reported: the platform's work
before the command starts (measured directly: from ``start`` to the supervisor's record of the command's
start), suspend (SIGTERM to stopped), resume-to-ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import Figure, report
from sardonyx.catalog import CatalogService, LaunchContext
from sardonyx.catalog.service import builtin_catalog_config
from sardonyx.runtimes.base import ServiceSpec
from sardonyx.runtimes.local import LocalRuntime, parse_recipe
from sardonyx.runtimes.local.processes import free_port, http_status
from sardonyx.runtimes.progress import InMemoryStateStore
from sardonyx.settings import builtin_catalog_dir

CHART = "jupyter-python"


def jupyter_spec(catalog: CatalogService, service_id: str) -> ServiceSpec:
    chart = catalog.chart_version("builtin", CHART)
    values = catalog.compute_values(chart, LaunchContext.local_default(login="bench")).values
    return ServiceSpec(
        id=service_id,
        project="user-bench",
        owner="bench",
        catalog_id="builtin",
        chart=CHART,
        version=chart.version,
        values=values,
        recipe=chart.recipe,
        chart_dir=str(builtin_catalog_dir() / CHART),
    )


async def launch_to_ready(runtime: LocalRuntime, spec: ServiceSpec, before_command: list[float] | None = None) -> float:
    """Seconds from ``start`` to the ``ready`` event; appends to ``before_command`` the seconds the platform
    spent before the command itself was started (recipe, environment lookup, ports, supervisor)."""
    wall = time.time()
    started = time.perf_counter()
    await runtime.start(spec)
    async for event in runtime.progress(spec.id):
        if event.kind == "failed":
            raise RuntimeError(event.message)
    elapsed = time.perf_counter() - started
    if before_command is not None:
        state_dir = Path(runtime._services[spec.id].state["service_dir"]) / ".sardonyx"
        before_command.append(json.loads((state_dir / "process.json").read_text())["started_at"] - wall)
    return elapsed


async def raw_start_to_ready(env_dir: Path, work: Path, token: str) -> float:
    """``jupyter lab`` started by hand with the recipe's arguments, until ``/api/status`` answers 200."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    command = [
        str(env_dir / "bin" / "jupyter"),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={work}",
        "--ServerApp.allow_root=True",
    ]
    env = {
        "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", str(work)),
        "JUPYTER_TOKEN": token,
        "JUPYTER_CONFIG_DIR": str(work / "config"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
    }
    headers = {"Authorization": f"token {token}"}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        while await http_status(port, "/api/status", headers) != 200:
            if process.poll() is not None:
                raise RuntimeError(f"raw jupyter lab exited with status {process.returncode}")
            await asyncio.sleep(0.01)
        return time.perf_counter() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def run(runs: int) -> list[Figure]:
    scratch = Path(tempfile.mkdtemp(prefix="sardonyx-bench-runtime-"))
    catalog = CatalogService([builtin_catalog_config()], cache_dir=scratch / "catalog-cache")
    runtime = LocalRuntime(InMemoryStateStore(), scratch / "data")
    try:
        warm = jupyter_spec(catalog, "bench-warmup")
        print(f"building or reusing the {CHART} environment (cache: {runtime.envs.root}) ...", flush=True)
        print(f"  warm-up launch: {await launch_to_ready(runtime, warm):.2f} s", flush=True)
        env_dir = Path(runtime._services[warm.id].state["env_dir"])
        await runtime.delete(warm.id)
        parse_recipe(warm.recipe, chart=CHART)

        platform: list[float] = []
        raw: list[float] = []
        suspend: list[float] = []
        resume: list[float] = []
        before_command: list[float] = []
        for n in range(runs):
            spec = jupyter_spec(catalog, f"bench-{n}")
            token = str(spec.values["security"]["password"])
            if n % 2:  # alternate which goes first: the machine's noise must not favour either
                raw.append(await raw_start_to_ready(env_dir, scratch / f"raw-{n}", token))
            platform.append(await launch_to_ready(runtime, spec, before_command))
            started = time.perf_counter()
            await runtime.suspend(spec.id)
            suspend.append(time.perf_counter() - started)
            started = time.perf_counter()
            await runtime.resume(spec.id)
            async for _event in runtime.progress(spec.id):
                pass
            resume.append(time.perf_counter() - started)
            await runtime.delete(spec.id)
            if not n % 2:
                raw.append(await raw_start_to_ready(env_dir, scratch / f"raw-{n}", token))
            print(f"  run {n + 1}/{runs}: platform {platform[-1]:.3f} s, raw {raw[-1]:.3f} s", flush=True)
    finally:
        for service_id in list(runtime._services):
            await runtime.delete(service_id)
        await runtime.close()
        shutil.rmtree(scratch, ignore_errors=True)

    overhead = [p - r for p, r in zip(platform, raw, strict=True)]
    return [
        Figure("jupyter-python launch-to-ready (environment built)", statistics.median(platform), "s", 4.0, runs=runs),
        Figure("raw jupyter lab start-to-ready", statistics.median(raw), "s", None, runs=runs),
        Figure(
            "platform overhead (median over runs of launch-to-ready minus raw)",
            statistics.median(overhead),
            "s",
            0.5,
            runs=runs,
        ),
        Figure(
            "difference of the two medians (noisier: not paired)",
            statistics.median(platform) - statistics.median(raw),
            "s",
            None,
            runs=runs,
        ),
        Figure(
            "platform work before jupyter lab runs (start -> command started)",
            statistics.median(before_command),
            "s",
            None,
            runs=runs,
        ),
        Figure("jupyter-python suspend (SIGTERM to stopped)", statistics.median(suspend), "s", None, runs=runs),
        Figure("jupyter-python resume-to-ready", statistics.median(resume), "s", None, runs=runs),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=11, help="measured runs (default 11)")
    args = parser.parse_args(argv)
    figures: list[Any] = asyncio.run(run(args.runs))
    return 0 if report("runtime", figures) else 1


if __name__ == "__main__":
    sys.exit(main())
