from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sardonyx.errors import InvalidName
from sardonyx.ports import PortInUse, ensure_ports_free, free_port, free_ports, port_is_free
from sardonyx.settings import SeaweedFSPorts
from sardonyx.storage import S3Credentials, SeaweedFS, bucket_policy, validate_bucket_name, validate_key


def test_weed_command_names_every_port_and_binds_loopback(tmp_path: Path) -> None:
    ports = SeaweedFSPorts(
        s3=1001, s3_grpc=1002, master=1003, master_grpc=1004, volume=1005, volume_grpc=1006,
        filer=1007, filer_grpc=1008, admin=1009, admin_grpc=1010,
    )  # fmt: skip
    command = SeaweedFS(tmp_path, ports, binary=Path("/bin/weed")).command()
    assert command[:2] == ["/bin/weed", "mini"]
    for flag, port in [
        ("-s3.port", 1001), ("-s3.port.grpc", 1002), ("-master.port", 1003), ("-master.port.grpc", 1004),
        ("-volume.port", 1005), ("-volume.port.grpc", 1006), ("-filer.port", 1007), ("-filer.port.grpc", 1008),
        ("-admin.port", 1009), ("-admin.port.grpc", 1010),
    ]:  # fmt: skip
        assert f"{flag}={port}" in command
    assert "-ip.bind=127.0.0.1" in command
    assert "-ip=127.0.0.1" in command
    assert "-s3.iam.readOnly=false" in command
    for disabled in ("-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"):
        assert disabled in command
    assert f"-dir={tmp_path / 'data'}" in command


def test_admin_identity_is_generated_once_and_private(tmp_path: Path) -> None:
    server = SeaweedFS(tmp_path, SeaweedFSPorts(), binary=Path("/bin/weed"))
    first = server.endpoint
    assert first.url == "http://127.0.0.1:8430"
    assert len(first.secret_access_key) == 40
    assert server.endpoint == first
    assert (tmp_path / "s3.json").stat().st_mode & 0o777 == 0o600
    assert SeaweedFS(tmp_path, SeaweedFSPorts(), binary=Path("/bin/weed")).endpoint == first


def test_no_server_is_reported_when_nothing_runs(tmp_path: Path) -> None:
    server = SeaweedFS(tmp_path, SeaweedFSPorts(), binary=Path("/bin/weed"))
    assert server.running_pid() is None
    (tmp_path / "weed.pid").write_text('{"pid": 1, "ports": {}}')  # pid 1 is not our weed
    assert server.running_pid() is None
    server.stop()  # no-op
    assert not (tmp_path / "weed.pid").exists()


def test_taken_ports_are_all_reported() -> None:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        a.listen()
        b.bind(("127.0.0.1", 0))
        b.listen()
        pa, pb = a.getsockname()[1], b.getsockname()[1]
        assert not port_is_free(pa)
        free = free_port()
        with pytest.raises(PortInUse) as caught:
            ensure_ports_free({"s3.ports.s3": pa, "s3.ports.filer": pb, "port": free})
    assert caught.value.status == 409
    assert [v.path for v in caught.value.violations] == ["s3.ports.s3", "s3.ports.filer"]
    assert str(pa) in caught.value.message and str(pb) in caught.value.message


def test_free_ports_are_distinct() -> None:
    ports = free_ports(10)
    assert len(set(ports)) == 10
    assert all(port_is_free(p) for p in ports)


@pytest.mark.parametrize("name", ["user-alice", "projet-stats", "abc", "a" * 63])
def test_valid_bucket_names(name: str) -> None:
    assert validate_bucket_name(name) == name


@pytest.mark.parametrize("name", ["ab", "User-Alice", "-alice", "alice-", "a" * 64, "a_b", "a.b", "x/../y", "a;rm"])
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_bucket_name(name)


@pytest.mark.parametrize("key", ["a.txt", "dir/sub/file.parquet", "été/ü.csv", "a..b", ".hidden"])
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


def test_invalid_key_lists_every_problem() -> None:
    with pytest.raises(InvalidName) as caught:
        validate_key("/a/../b\x00")
    reasons = [v.reason for v in caught.value.violations]
    assert len(reasons) == 3
    with pytest.raises(InvalidName):
        validate_key("")
    assert validate_key("", allow_empty=True) == ""


def test_credentials_environment_and_launch_context() -> None:
    credentials = S3Credentials("AK", "SK", "http://127.0.0.1:8430", "user-alice")
    env = credentials.environment()
    assert env["AWS_ACCESS_KEY_ID"] == "AK"
    assert env["AWS_SECRET_ACCESS_KEY"] == "SK"
    assert env["AWS_SESSION_TOKEN"] == ""
    assert env["AWS_S3_ENDPOINT"] == "127.0.0.1:8430"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8430"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    context = credentials.launch_context()
    assert context["AWS_S3_ENDPOINT"] == "127.0.0.1:8430"
    assert context["port"] == 8430
    assert context["pathStyleAccess"] is True
    assert context["isAnonymous"] is False
    assert S3Credentials("a", "b", "https://s3.example.org", "x-y-z").endpoint_port == 443


def test_bucket_policy_names_only_the_bucket() -> None:
    policy = bucket_policy("user-alice")
    (statement,) = policy["Statement"]
    assert statement["Resource"] == ["arn:aws:s3:::user-alice", "arn:aws:s3:::user-alice/*"]
