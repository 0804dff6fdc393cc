"""The local runtime with real, tiny processes (the system's Python): every lifecycle path of the contract.

JupyterLab, MLflow and uv-built environments are exercised in tests/integration/runtimes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from pathlib import Path

import psutil
import pytest

from sardonyx.errors import BadRequest, Conflict, InvalidName, NotFound
from sardonyx.runtimes.base import ServiceStatus
from sardonyx.runtimes.local import InvalidRecipe, JsonDirStateStore, LocalRuntime
from sardonyx.runtimes.progress import InMemoryStateStore
from tests.unit.runtimes.conftest import PY, http_server_recipe, job_recipe, make_spec, wait_for

pytestmark = pytest.mark.anyio


def child_pid(runtime: LocalRuntime, service_id: str) -> int:
    """The command's pid, from the supervisor's record (written just after the command started: the command
    may answer its readiness probe a moment before)."""
    record = Path(runtime._services[service_id].state["service_dir"]) / ".sardonyx" / "process.json"
    for _ in range(100):
        if record.exists():
            return int(json.loads(record.read_text())["child_pid"])
        time.sleep(0.02)
    raise AssertionError(f"no {record}")


async def test_service_runs_suspends_resumes_and_is_deleted(local_runtime: LocalRuntime) -> None:
    recipe = http_server_recipe(discovery={"kind": "web", "env": {"WEB_URL": "http://127.0.0.1:{{ ports.http }}"}})
    await local_runtime.start(make_spec("web-1", recipe))
    events = [event async for event in local_runtime.progress("web-1")]
    assert [e.kind for e in events] == ["requested", "environment", "starting", "ready"]
    assert [e.progress for e in events] == sorted(e.progress for e in events)
    status = await local_runtime.status("web-1")
    assert status.status is ServiceStatus.RUNNING and status.suspendable and not status.job
    url = status.urls[0]
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert (await local_runtime.discovery("web-1")) == {"WEB_URL": f"http://127.0.0.1:{port}"}
    service_dir = Path(local_runtime._services["web-1"].state["service_dir"])
    assert service_dir == local_runtime.data_dir / "services" / "user-alice" / "web-1"
    (service_dir / "notebook.txt").write_text("kept")
    pid = child_pid(local_runtime, "web-1")

    await local_runtime.suspend("web-1")
    assert (await local_runtime.status("web-1")).status is ServiceStatus.SUSPENDED
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (service_dir / "notebook.txt").read_text() == "kept"
    assert await local_runtime.discovery("web-1") == {}

    await local_runtime.resume("web-1")
    assert [e.kind async for e in local_runtime.progress("web-1")][-1] == "ready"
    assert (await local_runtime.status("web-1")).urls[0] == url  # the same port when it is still free

    await local_runtime.delete("web-1")
    assert not service_dir.exists()
    assert local_runtime.store.all() == {}
    with pytest.raises(NotFound):
        await local_runtime.status("web-1")
    with pytest.raises(NotFound):
        await local_runtime.delete("web-1")


async def test_jobs_end_succeeded_or_failed_by_exit_code_many_at_once(local_runtime: LocalRuntime) -> None:
    for n in range(4):
        code = "import sys, time; time.sleep(0.3); print('job', sys.argv[1]); sys.exit(int(sys.argv[1]) % 2 * 3)"
        await local_runtime.start(make_spec(f"job-{n}", job_recipe(code, command=[PY, "-c", code, str(n)])))
    for n in range(4):
        assert (await local_runtime.status(f"job-{n}")).status in {
            ServiceStatus.PENDING,
            ServiceStatus.STARTING,
            ServiceStatus.RUNNING,
        }
    for n in range(4):
        await wait_for(local_runtime, f"job-{n}", ServiceStatus.SUCCEEDED, ServiceStatus.FAILED)
        status = await local_runtime.status(f"job-{n}")
        assert status.job and not status.suspendable
        assert status.exit_code == (3 if n % 2 else 0)
        assert status.status is (ServiceStatus.FAILED if n % 2 else ServiceStatus.SUCCEEDED)
        lines = [line async for line in local_runtime.logs(f"job-{n}")]
        assert f"job {n}" in lines
    failed = await local_runtime.status("job-1")
    assert failed.reason == "ProcessExited" and "exited with status 3" in (failed.message or "")
    with pytest.raises(BadRequest):
        await local_runtime.suspend("job-0")
    with pytest.raises(BadRequest):
        await local_runtime.resume("job-0")


async def test_a_killed_service_is_failed_with_its_exit_reason(local_runtime: LocalRuntime) -> None:
    await local_runtime.start(make_spec("web-1", http_server_recipe()))
    await wait_for(local_runtime, "web-1", ServiceStatus.RUNNING)
    os.kill(child_pid(local_runtime, "web-1"), signal.SIGKILL)
    await wait_for(local_runtime, "web-1", ServiceStatus.FAILED, timeout=5)
    status = await local_runtime.status("web-1")
    assert status.reason == "ProcessExited"
    assert "killed by signal SIGKILL" in (status.message or "")
    # failed services stay listed, can be resumed or deleted
    await local_runtime.resume("web-1")
    await wait_for(local_runtime, "web-1", ServiceStatus.RUNNING)


async def test_a_service_stopped_from_outside_is_stopped_and_can_be_resumed(local_runtime: LocalRuntime) -> None:
    await local_runtime.start(make_spec("web-1", http_server_recipe()))
    await wait_for(local_runtime, "web-1", ServiceStatus.RUNNING)
    os.kill(local_runtime._services["web-1"].state["process"]["pid"], signal.SIGTERM)  # e.g. a system shutdown
    await wait_for(local_runtime, "web-1", ServiceStatus.STOPPED, timeout=10)
    status = await local_runtime.status("web-1")
    assert status.reason == "Stopped" and "stopped from outside the platform" in (status.message or "")
    await local_runtime.resume("web-1")
    await wait_for(local_runtime, "web-1", ServiceStatus.RUNNING)


async def test_restart_reattaches_running_services_and_sees_deaths_and_job_ends(tmp_path: Path) -> None:
    store = JsonDirStateStore(tmp_path / "state")
    data = tmp_path / "data"
    first = LocalRuntime(store, data, envs_dir=tmp_path / "envs", monitor_interval=0.1)
    await first.start(make_spec("web-1", http_server_recipe()))
    await first.start(make_spec("web-2", http_server_recipe()))
    await first.start(make_spec("job-1", job_recipe("import time; time.sleep(1.5)")))
    await first.start(make_spec("job-2", job_recipe("import time; time.sleep(1.5); raise SystemExit(4)")))
    for service_id in ("web-1", "web-2"):
        await wait_for(first, service_id, ServiceStatus.RUNNING)
    web1_url = (await first.status("web-1")).urls[0]
    web2_pid = child_pid(first, "web-2")
    await first.close()  # the platform stops; the services do not
    del first

    os.kill(web2_pid, signal.SIGKILL)  # dies while nobody watches
    await asyncio.sleep(0.3)

    second = LocalRuntime(store, data, envs_dir=tmp_path / "envs", monitor_interval=0.1)
    await second.restore()
    try:
        status = await second.status("web-1")
        assert status.status is ServiceStatus.RUNNING and status.urls[0] == web1_url
        dead = await second.status("web-2")
        assert dead.status is ServiceStatus.FAILED and dead.reason == "ProcessExited"
        assert "SIGKILL" in (dead.message or "")
        assert [e.kind async for e in second.progress("web-1")][-1] == "ready"  # progress replays after restart
        assert await wait_for(second, "job-1", ServiceStatus.SUCCEEDED, ServiceStatus.FAILED) is ServiceStatus.SUCCEEDED
        assert await wait_for(second, "job-2", ServiceStatus.SUCCEEDED, ServiceStatus.FAILED) is ServiceStatus.FAILED
        assert (await second.status("job-2")).exit_code == 4
        # a re-attached service is still fully manageable
        await second.suspend("web-1")
        assert (await second.status("web-1")).status is ServiceStatus.SUSPENDED
    finally:
        for service_id in list(second._services):
            await second.delete(service_id)
        await second.close()
    assert store.all() == {}


async def test_a_taken_pinned_port_fails_with_port_in_use(local_runtime: LocalRuntime) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        recipe = http_server_recipe(ports=[{"name": "http", "pin": "values.networking.port"}])
        await local_runtime.start(make_spec("web-1", recipe, {"networking": {"port": taken}}))
        events = [e async for e in local_runtime.progress("web-1")]
    status = await local_runtime.status("web-1")
    assert (status.status, status.reason) == (ServiceStatus.FAILED, "PortInUse")
    assert str(taken) in (status.message or "") and events[-1].kind == "failed"
    assert status.tasks[0].status == "Failed"
    # an empty pin means "any free port"
    await local_runtime.start(make_spec("web-2", recipe, {"networking": {"port": None}}))
    await wait_for(local_runtime, "web-2", ServiceStatus.RUNNING)


async def test_names_that_try_to_inject_are_rejected_before_touching_disk(local_runtime: LocalRuntime) -> None:
    for service_id, project in [("../../etc", "user-alice"), ("web-1", "user-alice/../../x"), ("a;rm -rf ~", "p")]:
        with pytest.raises(InvalidName):
            await local_runtime.start(make_spec(service_id, http_server_recipe(), project=project))
    assert not (local_runtime.data_dir / "services").exists()
    assert local_runtime.store.all() == {}


async def test_values_reach_a_command_as_single_arguments_never_through_a_shell(
    local_runtime: LocalRuntime, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    hostile = f"x; touch {marker}; $(touch {marker}) `touch {marker}`"
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    recipe = job_recipe(code, command=[PY, "-c", code, "--name={{ values.name }}", {"each": "values.args"}])
    await local_runtime.start(make_spec("job-1", recipe, {"name": hostile, "args": [hostile, "two words"]}))
    await wait_for(local_runtime, "job-1", ServiceStatus.SUCCEEDED)
    lines = [line async for line in local_runtime.logs("job-1")]
    argv = json.loads(next(line for line in lines if line.startswith('["')))
    assert argv == [f"--name={hostile}", hostile, "two words"]
    assert not marker.exists()


async def test_environment_is_the_library_chart_contract_and_nothing_leaks(
    local_runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "platform-secret-must-not-leak")
    monkeypatch.setenv("SARDONYX_DATA_DIR", "/nope")
    values = {
        "s3": {
            "enabled": True,
            "accessKeyId": "AK",
            "secretAccessKey": "SK",
            "sessionToken": "",
            "defaultRegion": "us-east-1",
            "endpoint": "http://127.0.0.1:8333",
            "pathStyleAccess": True,
        },
        "security": {"password": "one-time"},
        "git": {"enabled": True, "name": "Alice", "email": "alice@example.org", "token": "", "branch": "main"},
        "vault": {"enabled": False, "url": "http://vault"},
        "extraEnvVars": [{"name": "MY_VAR", "value": "mine"}, {"name": "AWS_DEFAULT_REGION", "value": "eu-west-3"}],
    }
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    spec = make_spec(
        "job-1",
        job_recipe(code, env={"FROM_RECIPE": "{{ injected.AWS_ENDPOINT_URL }}/x"}),
        values,
        discovery={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"},
    )
    await local_runtime.start(spec)
    await wait_for(local_runtime, "job-1", ServiceStatus.SUCCEEDED)
    lines = [line async for line in local_runtime.logs("job-1")]
    env = json.loads(next(line for line in lines if line.startswith("{")))
    assert env["AWS_ACCESS_KEY_ID"] == "AK" and env["AWS_SECRET_ACCESS_KEY"] == "SK"
    assert "AWS_SESSION_TOKEN" not in env
    assert env["AWS_S3_ENDPOINT"] == "127.0.0.1:8333"
    assert env["AWS_ENDPOINT_URL"] == env["S3_ENDPOINT"] == "http://127.0.0.1:8333"
    assert env["AWS_PATH_STYLE_ACCESS"] == "true"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-3"  # the user's extraEnvVars win
    assert env["PASSWORD"] == "one-time" and env["MY_VAR"] == "mine"
    assert (
        env["GIT_USER_NAME"] == "Alice"
        and env["GIT_AUTHOR_EMAIL"] == "alice@example.org"
        and env["GIT_BRANCH"] == "main"
    )
    assert not any(k.startswith("VAULT_") for k in env)
    assert env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert env["FROM_RECIPE"] == "http://127.0.0.1:8333/x"
    assert not any(k.startswith("SARDONYX_") for k in env)


async def test_bad_recipes_and_values_are_rejected_with_every_violation(local_runtime: LocalRuntime) -> None:
    with pytest.raises(InvalidRecipe, match="no local recipe"):
        await local_runtime.start(make_spec("a-1", None))
    with pytest.raises(InvalidRecipe) as info:
        await local_runtime.start(
            make_spec("a-1", {"kind": "daemon", "command": [], "env": {"1BAD": "x"}, "files": {"../x": ""}, "oops": 1})
        )
    paths = {v.path for v in info.value.violations}
    assert {"recipe.kind", "recipe.command", "recipe.env", "recipe.files", "recipe.oops"} <= paths
    with pytest.raises(InvalidRecipe) as info:
        await local_runtime.start(
            make_spec("a-1", job_recipe("", command=[PY, "{{ values.missing.deep }}", "{{ ports.nope }}"]))
        )
    assert [v.path for v in info.value.violations] == ["recipe.command[1]", "recipe.command[2]"]
    with pytest.raises(BadRequest) as bad:
        await local_runtime.start(
            make_spec("a-1", http_server_recipe(ports=[{"name": "http", "pin": "values.port"}]), {"port": "eighty"})
        )
    assert bad.value.violations[0].path == "ports.http"
    with pytest.raises(BadRequest) as bad:
        await local_runtime.start(
            make_spec("a-1", job_recipe("pass"), {"extraEnvVars": [{"name": "BAD NAME", "value": ""}]})
        )
    assert bad.value.violations[0].path == "extraEnvVars[0].name"
    with pytest.raises(BadRequest) as bad:
        await local_runtime.start(
            make_spec("a-1", job_recipe("pass", environment={"requirements": ["--index-url=http://evil", "ok-pkg>=1"]}))
        )
    assert [v.path for v in bad.value.violations] == ["environment.requirements[0]"]
    assert local_runtime.store.all() == {}
    await local_runtime.start(make_spec("a-1", job_recipe("pass")))
    with pytest.raises(Conflict):
        await local_runtime.start(make_spec("a-1", job_recipe("pass")))


async def test_start_up_failures_stop_everything_and_say_why(local_runtime: LocalRuntime) -> None:
    crash = job_recipe("", kind="service", command=[PY, "-c", "import sys; print('boom: bad config'); sys.exit(2)"])
    await local_runtime.start(make_spec("crash-1", crash))
    await wait_for(local_runtime, "crash-1", ServiceStatus.FAILED)
    status = await local_runtime.status("crash-1")
    assert status.reason == "ProcessExited" and "boom: bad config" in (status.message or "")

    await local_runtime.start(make_spec("missing-1", job_recipe("", command=["no-such-program-xyz"])))
    await wait_for(local_runtime, "missing-1", ServiceStatus.FAILED)
    assert (await local_runtime.status("missing-1")).reason == "CommandNotFound"

    never = http_server_recipe(
        command=[PY, "-c", "import time; time.sleep(60)"], readiness={"http": {"path": "/"}, "timeout_seconds": 0.5}
    )
    await local_runtime.start(make_spec("never-1", never))
    await wait_for(local_runtime, "never-1", ServiceStatus.FAILED)
    status = await local_runtime.status("never-1")
    assert status.reason == "ReadinessTimeout"
    assert not psutil.pid_exists(child_pid(local_runtime, "never-1"))


async def test_process_alive_readiness_files_and_workdir(local_runtime: LocalRuntime) -> None:
    recipe = {
        "command": [PY, "script.py", "{{ values.word }}"],
        "files": {"script.py": "import sys, time\nprint('hello', sys.argv[1], flush=True)\ntime.sleep(60)\n"},
        "readiness": {"settle_seconds": 0.2},
        "stop_grace_seconds": 1,
    }
    await local_runtime.start(make_spec("proc-1", recipe, {"word": "world"}))
    await wait_for(local_runtime, "proc-1", ServiceStatus.RUNNING)
    assert (await local_runtime.status("proc-1")).urls == ()
    await asyncio.sleep(0.2)
    assert "hello world" in [line async for line in local_runtime.logs("proc-1", tail=3)]


async def test_logs_follow_until_the_job_ends(local_runtime: LocalRuntime) -> None:
    code = "import time\nfor n in range(3):\n    print('line', n, flush=True)\n    time.sleep(0.2)"
    await local_runtime.start(make_spec("job-1", job_recipe(code)))
    await wait_for(local_runtime, "job-1", ServiceStatus.RUNNING, ServiceStatus.SUCCEEDED)
    lines = [line async for line in local_runtime.logs("job-1", follow=True)]
    assert [line for line in lines if line.startswith("line")] == ["line 0", "line 1", "line 2"]
    assert [line async for line in local_runtime.logs("job-1", tail=1)] == lines[-1:]


async def test_a_service_that_detaches_children_is_stopped_whole(local_runtime: LocalRuntime) -> None:
    # like Jupyter kernels: a grandchild in its own session must not survive the service
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
        "print('grandchild', p.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    await local_runtime.start(
        make_spec("proc-1", job_recipe(code, kind="service", readiness={"settle_seconds": 0.5}, stop_grace_seconds=1))
    )
    await wait_for(local_runtime, "proc-1", ServiceStatus.RUNNING)
    await asyncio.sleep(0.3)
    lines = [line async for line in local_runtime.logs("proc-1")]
    grandchild = int(next(line for line in lines if line.startswith("grandchild")).split()[1])
    assert psutil.pid_exists(grandchild)
    await local_runtime.suspend("proc-1")
    await asyncio.sleep(0.1)
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


async def test_delete_is_idempotent_while_in_progress_and_works_during_start_up(tmp_path: Path) -> None:
    runtime = LocalRuntime(InMemoryStateStore(), tmp_path / "data", envs_dir=tmp_path / "envs")
    never = http_server_recipe(command=[PY, "-c", "import time; time.sleep(60)"])
    await runtime.start(make_spec("never-1", never))
    await wait_for(runtime, "never-1", ServiceStatus.STARTING)
    await asyncio.sleep(0.3)
    pid = child_pid(runtime, "never-1")
    await asyncio.gather(runtime.delete("never-1"), runtime.delete("never-1"))
    assert not psutil.pid_exists(pid)
    assert runtime.store.all() == {}
    await runtime.close()


async def test_services_outlive_the_platform_process_and_are_found_again(tmp_path: Path) -> None:
    """The first platform is a real process that starts a service and exits; the second restores it."""
    script = f"""
import asyncio, sys
from pathlib import Path
from sardonyx.runtimes.local import JsonDirStateStore, LocalRuntime
from tests.unit.runtimes.conftest import http_server_recipe, make_spec

async def main():
    runtime = LocalRuntime(JsonDirStateStore(Path({str(tmp_path / "state")!r})), Path({str(tmp_path / "data")!r}),
                           envs_dir=Path({str(tmp_path / "envs")!r}))
    await runtime.start(make_spec("web-1", http_server_recipe()))
    async for event in runtime.progress("web-1"):
        print(event.kind, flush=True)
    await runtime.close()

asyncio.run(main())
"""
    repo = Path(__file__).resolve().parents[3]
    done = await asyncio.create_subprocess_exec(PY, "-c", script, cwd=repo, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(done.communicate(), 30)
    assert done.returncode == 0 and out.decode().split()[-1] == "ready"

    runtime = LocalRuntime(JsonDirStateStore(tmp_path / "state"), tmp_path / "data", envs_dir=tmp_path / "envs")
    await runtime.restore()
    try:
        status = await runtime.status("web-1")
        assert status.status is ServiceStatus.RUNNING
        port = int(status.urls[0].rsplit(":", 1)[1].strip("/"))
        from sardonyx.runtimes.local.processes import http_status

        assert await http_status(port, "/", {}) == 200
    finally:
        await runtime.delete("web-1")
        await runtime.close()
