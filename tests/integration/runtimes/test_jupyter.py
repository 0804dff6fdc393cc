"""jupyter-python through the local runtime: a JupyterLab answering with its password, whose kernel writes and
reads Parquet in the project's bucket with nothing but the injected environment; and a platform restart."""

from __future__ import annotations

import json
import os
import signal
import uuid
from typing import Any

import httpx
import pytest

from sardonyx.runtimes.base import ServiceStatus
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.storage.credentials import S3Credentials
from tests.integration.runtimes.conftest import ValuesFor, chart_spec

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.slow]

KERNEL_CODE = """
import os
import pandas as pd
import s3fs
leaked = sorted(k for k in os.environ if k.startswith("SARDONYX_"))
fs = s3fs.S3FileSystem()  # no argument: endpoint and keys come from the environment only
path = os.environ["AWS_BUCKET_NAME"] + "/integration/roundtrip.parquet"
with fs.open(path, "wb") as handle:
    pd.DataFrame({"code": ["1071C", "6201Z", "9602A"], "n": [1, 2, 3]}).to_parquet(handle)
back = pd.read_parquet("s3://" + path)
import boto3
import pyarrow.fs
import pyarrow.parquet as pq
keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=os.environ["AWS_BUCKET_NAME"])["Contents"]]
via_fsspec = pq.read_table(path, filesystem=fs)
# Arrow's own S3 client ignores AWS_ENDPOINT_URL (apache/arrow#49643): it is given the variable's value
native = pq.read_table(path, filesystem=pyarrow.fs.S3FileSystem(endpoint_override=os.environ["AWS_ENDPOINT_URL"]))
print("RESULT", len(back), int(back.n.sum()), list(back.code), leaked)
print("CLIENTS", "integration/roundtrip.parquet" in keys, via_fsspec.num_rows, native.num_rows)
"""


async def execute(base: str, token: str, code: str) -> str:
    """Run ``code`` in a new kernel over Jupyter's REST and websocket APIs; return its stdout."""
    import websockets

    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, trust_env=False, timeout=60) as client:
        kernel = (await client.post("/api/kernels", json={"name": "python3"})).raise_for_status().json()
        session, msg_id = uuid.uuid4().hex, uuid.uuid4().hex
        message = {
            "header": {
                "msg_id": msg_id,
                "username": "test",
                "session": session,
                "msg_type": "execute_request",
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
            },
            "channel": "shell",
            "buffers": [],
        }
        out: list[str] = []
        url = base.replace("http://", "ws://") + f"/api/kernels/{kernel['id']}/channels?session_id={session}"
        async with websockets.connect(url, additional_headers=headers, max_size=None) as socket:
            await socket.send(json.dumps(message))
            while True:
                reply: dict[str, Any] = json.loads(await socket.recv())
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = reply["header"]["msg_type"]
                if kind == "stream":
                    out.append(reply["content"]["text"])
                elif kind == "error":
                    out.append("\n".join(reply["content"]["traceback"]))
                elif kind == "execute_reply":
                    break
        await client.delete(f"/api/kernels/{kernel['id']}")
        return "".join(out)


async def test_jupyter_lab_with_password_and_s3_parquet_from_a_kernel(
    runtime: LocalRuntime, alice_s3: S3Credentials, values_for: ValuesFor
) -> None:
    values = values_for("jupyter-python", alice_s3)
    password = values["security"]["password"]
    await runtime.start(chart_spec("jupyter-python-1", "jupyter-python", values))
    events = [event async for event in runtime.progress("jupyter-python-1")]
    assert events[-1].kind == "ready", events[-1].message
    status = await runtime.status("jupyter-python-1")
    assert status.status is ServiceStatus.RUNNING
    url = status.urls[0]
    assert url.endswith("/lab") and ":8888/" not in url
    base = url.removesuffix("/lab")

    for token, expected in [(password, 200), (None, 403), ("wrong", 403)]:
        # a client per request: Jupyter answers a good token with a login cookie
        async with httpx.AsyncClient(trust_env=False) as client:
            headers = {"Authorization": f"token {token}"} if token else {}
            assert (await client.get(f"{base}/api/status", headers=headers)).status_code == expected

    output = await execute(base, password, KERNEL_CODE)
    assert "RESULT 3 6 ['1071C', '6201Z', '9602A'] []" in output, output
    assert "CLIENTS True 3 3" in output, output
    listed = alice_s3.client().list_objects_v2(Bucket=alice_s3.bucket, Prefix="integration/")
    assert [o["Key"] for o in listed.get("Contents", [])] == ["integration/roundtrip.parquet"]

    notes = await runtime.notes("jupyter-python-1")
    assert notes is not None and url in notes and password in notes


async def test_restart_reattaches_jupyter_then_sees_it_killed(
    runtime: LocalRuntime, alice_s3: S3Credentials, values_for: ValuesFor, envs_dir: Any
) -> None:
    values = values_for("jupyter-python", alice_s3)
    await runtime.start(chart_spec("jupyter-python-2", "jupyter-python", values))
    assert [e.kind async for e in runtime.progress("jupyter-python-2")][-1] == "ready"
    url = (await runtime.status("jupyter-python-2")).urls[0]
    await runtime.close()  # the platform stops

    restarted = LocalRuntime(runtime.store, runtime.data_dir, envs_dir=envs_dir, monitor_interval=0.2)
    await restarted.restore()
    try:
        status = await restarted.status("jupyter-python-2")
        assert status.status is ServiceStatus.RUNNING and status.urls[0] == url
        headers = {"Authorization": f"token {values['security']['password']}"}
        async with httpx.AsyncClient(trust_env=False) as client:
            assert (await client.get(url.removesuffix("/lab") + "/api/status", headers=headers)).status_code == 200

        state_dir = restarted._services["jupyter-python-2"].state_dir
        os.kill(json.loads((state_dir / "process.json").read_text())["child_pid"], signal.SIGKILL)
        for _ in range(100):
            status = await restarted.status("jupyter-python-2")
            if status.status is ServiceStatus.FAILED:
                break
            import asyncio

            await asyncio.sleep(0.1)
        assert (status.status, status.reason) == (ServiceStatus.FAILED, "ProcessExited")
        assert "SIGKILL" in (status.message or "")
    finally:
        await restarted.delete("jupyter-python-2")
        await restarted.close()
