"""The embedded SeaweedFS, for real: loopback-only ports, scoped credentials, persistence, browsing."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from sardonyx.errors import Forbidden, InvalidName, NotFound
from sardonyx.ports import PortInUse
from sardonyx.storage import BucketBrowser, CredentialIssuer, MemoryCredentialStore, S3Credentials, SeaweedFS
from sardonyx.storage.testing import free_seaweedfs_ports, project_credentials, running_seaweedfs

pytestmark = pytest.mark.integration


def test_every_port_is_bound_to_loopback_only(seaweedfs: SeaweedFS) -> None:
    pid = seaweedfs.running_pid()
    assert pid is not None
    listening: set[tuple[str, int]] = set()
    for _ in range(50):  # the admin port opens a few tenths of a second after S3 answers
        listening = {
            (c.laddr.ip, c.laddr.port)
            for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        }
        if len(listening) >= 10:
            break
        time.sleep(0.1)
    assert {ip for ip, _ in listening} == {"127.0.0.1"}
    assert {port for _, port in listening} == set(seaweedfs.ports.all().values())


def test_project_credentials_are_scoped_to_the_project_bucket(seaweedfs: SeaweedFS) -> None:
    from botocore.exceptions import ClientError

    alice = project_credentials(seaweedfs, "user-alice-scope")
    bob = project_credentials(seaweedfs, "user-bob-scope")
    a = alice.client()
    a.put_object(Bucket=alice.bucket, Key="notes.txt", Body=b"hello")
    assert a.get_object(Bucket=alice.bucket, Key="notes.txt")["Body"].read() == b"hello"
    forbidden_actions: list[Callable[[], object]] = [
        lambda: a.put_object(Bucket=bob.bucket, Key="x", Body=b"x"),
        lambda: a.list_objects_v2(Bucket=bob.bucket),
        lambda: a.create_bucket(Bucket="user-alice-other"),
    ]
    for forbidden in forbidden_actions:
        with pytest.raises(ClientError) as caught:
            forbidden()
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
    wrong = S3Credentials(alice.access_key_id, "not-the-secret", alice.endpoint_url, alice.bucket).client()
    with pytest.raises(ClientError):
        wrong.list_objects_v2(Bucket=alice.bucket)


def test_credentials_are_issued_once_and_reissued_when_the_server_forgot_them(seaweedfs: SeaweedFS) -> None:
    store = MemoryCredentialStore()
    issuer = CredentialIssuer(seaweedfs.endpoint, store)
    first = issuer.for_project("user-carol-reissue")
    assert issuer.for_project("user-carol-reissue") == first
    assert CredentialIssuer(seaweedfs.endpoint, store).for_project("user-carol-reissue") == first
    issuer.revoke("user-carol-reissue")
    assert store.load_credentials("user-carol-reissue") is None
    store.save_credentials("user-carol-reissue", first.access_key_id, first.secret_access_key)  # stale keys
    again = CredentialIssuer(seaweedfs.endpoint, store).for_project("user-carol-reissue")
    assert again.access_key_id != first.access_key_id
    again.client().head_bucket(Bucket=again.bucket)


def test_invalid_project_name_is_refused_before_reaching_s3(seaweedfs: SeaweedFS) -> None:
    issuer = CredentialIssuer(seaweedfs.endpoint, MemoryCredentialStore())
    with pytest.raises(InvalidName):
        issuer.for_project("../etc")


def test_data_and_identities_survive_a_restart_and_a_live_server_is_adopted(tmp_path: Path) -> None:
    store = MemoryCredentialStore()
    with running_seaweedfs(tmp_path) as server:
        credentials = CredentialIssuer(server.endpoint, store).for_project("user-dave")
        for index in range(5):
            credentials.client().put_object(Bucket="user-dave", Key=f"kept{index}.txt", Body=b"kept%d" % index)
        pid = server.running_pid()
        adopter = SeaweedFS(tmp_path, server.ports)
        adopter.start()
        assert adopter.running_pid() == pid
        ports = server.ports
    assert psutil.pid_exists(pid or 0) is False or psutil.Process(pid or 0).status() == psutil.STATUS_ZOMBIE
    restarted = SeaweedFS(tmp_path, ports)
    restarted.start()
    try:
        assert restarted.running_pid() != pid
        client = credentials.client()
        # readable at once, and new writes do not reuse the file ids of the objects written before
        for index in range(5):
            client.put_object(Bucket="user-dave", Key=f"new{index}.txt", Body=b"new%d" % index)
        for index in range(5):
            assert client.get_object(Bucket="user-dave", Key=f"kept{index}.txt")["Body"].read() == b"kept%d" % index
            assert client.get_object(Bucket="user-dave", Key=f"new{index}.txt")["Body"].read() == b"new%d" % index
    finally:
        restarted.stop()


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    ports = free_seaweedfs_ports()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports.filer))
        blocker.listen()
        with pytest.raises(PortInUse) as caught:
            SeaweedFS(tmp_path, ports).start()
    assert [v.path for v in caught.value.violations] == ["s3.ports.filer"]
    assert str(ports.filer) in caught.value.message


def test_browsing_lists_folders_sizes_and_dates(s3_project: S3Credentials) -> None:
    browser = BucketBrowser(s3_project)
    browser.upload("data/a.csv", b"x,y\n1,2\n", content_type="text/csv")
    browser.upload("data/sub/b.bin", io.BytesIO(b"\0" * 1000))
    browser.upload("readme.md", b"# hi")
    root = browser.list()
    assert [f.name for f in root.folders] == ["data"]
    assert [(o.name, o.size) for o in root.objects] == [("readme.md", 4)]
    data = browser.list("data")
    assert data.prefix == "data/"
    assert [f.prefix for f in data.folders] == ["data/sub/"]
    (csv,) = data.objects
    assert (csv.key, csv.size) == ("data/a.csv", 8)
    assert csv.last_modified.tzinfo is not None
    assert browser.head("data/a.csv").content_type == "text/csv"
    assert [o.key for o in browser.list("data", recursive=True).objects] == ["data/a.csv", "data/sub/b.bin"]
    assert browser.download("data/sub/b.bin") == b"\0" * 1000
    assert b"".join(browser.stream("readme.md", chunk_size=2)) == b"# hi"
    assert browser.delete_prefix("data") == 2
    assert browser.list("data").objects == []
    browser.delete("readme.md")
    with pytest.raises(NotFound):
        browser.download("readme.md")
    with pytest.raises(InvalidName):
        browser.upload("../escape", b"x")


def test_upload_from_a_local_file_and_download_to_one(s3_project: S3Credentials, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"abc" * 10_000)
    browser = BucketBrowser(s3_project)
    assert browser.upload("files/in.bin", source).size == 30_000
    target = browser.download_to("files/in.bin", tmp_path / "out.bin")
    assert target.read_bytes() == source.read_bytes()


def test_presigned_urls_read_and_write_without_credentials(s3_project: S3Credentials) -> None:
    browser = BucketBrowser(s3_project)
    put_url = browser.presigned_url("shared/up.txt", method="put", expires_seconds=60)
    assert httpx.put(put_url, content=b"uploaded").status_code == 200
    get_url = browser.presigned_url("shared/up.txt")
    response = httpx.get(get_url)
    assert (response.status_code, response.content) == (200, b"uploaded")
    tampered = get_url.replace("Signature=", "Signature=0")
    assert httpx.get(tampered).status_code == 403
    anonymous = f"{s3_project.endpoint_url}/{s3_project.bucket}/shared/up.txt"
    assert httpx.get(anonymous).status_code == 403
    with pytest.raises(InvalidName):
        browser.presigned_url("shared/up.txt", expires_seconds=8 * 24 * 3600)


def test_browsing_another_bucket_is_forbidden(s3_project: S3Credentials, seaweedfs: SeaweedFS) -> None:
    other = project_credentials(seaweedfs)
    intruder = S3Credentials(
        s3_project.access_key_id, s3_project.secret_access_key, s3_project.endpoint_url, other.bucket
    )
    with pytest.raises(Forbidden):
        BucketBrowser(intruder).list()


def test_s3fs_works_from_the_injected_environment_only(
    s3_project: S3Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    for name, value in s3_project.environment().items():
        monkeypatch.setenv(name, value)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    path = f"{s3_project.bucket}/env/hello.txt"
    fs.pipe(path, b"from env")
    assert fs.cat(path) == b"from env"
    assert fs.ls(f"{s3_project.bucket}/env") == [path]
