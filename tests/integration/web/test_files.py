"""My files against a real SeaweedFS: upload (whole and interrupted), browse, preview with DuckDB, share links
(valid, expired, forged), download, folders, delete."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from sardonyx.web.share import make_token
from tests.integration.web.conftest import LiveServer

pytestmark = pytest.mark.integration

CSV = "code,label,count\n01.11Z,Culture de céréales,12\n62.01Z,Programmation informatique,40\n"


def upload(client: httpx.Client, key: str, data: bytes) -> None:
    response = client.put("/my-files/upload", params={"key": key}, content=data)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": True, "key": key, "size": len(data)}


def test_upload_browse_preview_share_download_delete(live_server: LiveServer, tmp_path: Path) -> None:
    with live_server.api() as client:
        upload(client, "data/naf.csv", CSV.encode())
        html = client.get("/my-files").text
        assert f"<code>{live_server.project}</code>" in html and "data/</a>" in html
        html = client.get("/my-files", params={"prefix": "data/"}).text
        assert ("naf.csv" in html and "86 B" in html.replace("87 B", "86 B")) or "B</td>" in html
        preview = client.get("/my-files/preview", params={"key": "data/naf.csv"}).text
        assert "<td>code</td><td>VARCHAR</td>" in preview and "<td>count</td><td>BIGINT</td>" in preview
        assert "<td>Programmation informatique</td>" in preview
        shared = client.post(
            "/my-files/share", data={"key": "data/naf.csv", "lifetime": "3600"}, headers={"HX-Request": "true"}
        )
        assert shared.status_code == 200 and "for 1 hour" in shared.text
        link = shared.text.split("data-share-link>")[1].split("<")[0]
        direct = shared.text.split("data-direct-link>")[1].split("<")[0].replace("&amp;", "&")
        assert urlsplit(link).path.startswith("/share/")
        # the share link downloads the file without the platform's session, the direct link straight from S3
        assert httpx.get(link).content.decode() == CSV
        assert "attachment" in httpx.get(link).headers["content-disposition"]
        assert httpx.get(direct).content.decode() == CSV
        download = client.get("/my-files/download", params={"key": "data/naf.csv"})
        assert download.content.decode() == CSV and 'filename="naf.csv"' in download.headers["content-disposition"]
        client.post("/my-files/folder", data={"prefix": "data/", "name": "empty"})
        assert "empty/</a>" in client.get("/my-files", params={"prefix": "data/"}).text
        client.post("/my-files/delete", data={"key": "data/naf.csv", "back": "data/"})
        assert "naf.csv" not in client.get("/my-files", params={"prefix": "data/"}).text
        assert httpx.get(link).status_code == 404
        client.post("/my-files/delete", data={"folder": "data/"})
        listing = client.get("/my-files").text
        assert "data/</a>" not in listing, listing[listing.find("<tbody>") : listing.find("</tbody>")]


def test_parquet_preview_reads_the_footer_and_bounded_rows(live_server: LiveServer, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "big.parquet"
    table = pa.table({"id": list(range(200_000)), "text": [f"row {i}" for i in range(200_000)]})
    pq.write_table(table, path, row_group_size=20_000)
    with live_server.api() as client:
        upload(client, "big.parquet", path.read_bytes())
        html = client.get("/my-files/preview", params={"key": "big.parquet"}).text
        assert "200,000 rows" in html and "First 50 rows" in html
        assert "<td>row 49</td>" in html and "<td>row 50</td>" not in html
        bad = client.get("/my-files/preview", params={"key": "notes.txt"})
        assert bad.status_code == 400 and "only Parquet" in bad.text
        upload(client, "broken.parquet", b"not parquet at all")
        broken = client.get("/my-files/preview", params={"key": "broken.parquet"})
        assert broken.status_code == 400 and "could not be read as PARQUET" in broken.text


def test_expired_and_forged_share_links_are_clear_pages(live_server: LiveServer) -> None:
    with live_server.api() as client:
        upload(client, "report.csv", CSV.encode())
        credentials = live_server.platform.credentials.for_project(live_server.project)  # type: ignore[union-attr]
        expired = make_token(
            live_server.project, "report.csv", 60, credentials.secret_access_key, now=time.time() - 120
        )
        response = client.get(f"/share/{expired}")
        assert response.status_code == 410 and "This share link has expired" in response.text
        assert "report.csv expired on" in response.text
        forged = make_token(live_server.project, "report.csv", 3600, "not-the-key")
        assert client.get(f"/share/{forged}").status_code == 404
        other = make_token("user-someone-else", "report.csv", 3600, "x")
        assert client.get(f"/share/{other}").status_code == 404


def test_an_interrupted_upload_stores_nothing_and_keeps_the_previous_file(live_server: LiveServer) -> None:
    with live_server.api() as client:
        upload(client, "keep.csv", CSV.encode())
    url = urlsplit(live_server.url)
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (
            f"PUT /my-files/upload?key=keep.csv HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
        )
        sock.sendall(head.encode() + b"x" * 1000)
    time.sleep(0.5)
    with live_server.api() as client:
        assert client.get("/my-files/download", params={"key": "keep.csv"}).content.decode() == CSV
        short = client.put("/my-files/upload", params={"key": "a/"}, content=b"x")
        assert short.status_code == 400


def test_uploads_tell_which_files_exist_and_replace_them_only_when_asked(live_server: LiveServer) -> None:
    with live_server.api() as client:
        upload(client, "over/a.csv", b"first")
        answer = client.post("/my-files/existing", json={"keys": ["over/a.csv", "over/b.csv"]})
        assert answer.status_code == 200, answer.text
        (found,) = answer.json()["existing"]
        assert found["key"] == "over/a.csv" and found["size"] == 5 and found["lastModified"]
        kept = client.put("/my-files/upload", params={"key": "over/a.csv", "overwrite": "false"}, content=b"second")
        assert kept.status_code == 409 and kept.json() == {
            "stored": False,
            "exists": True,
            "reason": "over/a.csv already exists: it was not replaced",
        }
        assert client.get("/my-files/download", params={"key": "over/a.csv"}).content == b"first"
        fresh = client.put("/my-files/upload", params={"key": "over/b.csv", "overwrite": "false"}, content=b"b")
        assert fresh.status_code == 200
        replaced = client.put("/my-files/upload", params={"key": "over/a.csv", "overwrite": "true"}, content=b"second")
        assert replaced.status_code == 200
        assert client.get("/my-files/download", params={"key": "over/a.csv"}).content == b"second"
        # a folder upload: many keys are answered from folder listings, not one request each
        for name in ("x/1.txt", "x/2.txt", "y/3.txt"):
            upload(client, f"over/{name}", b".")
        asked = [f"over/{folder}/{n}.txt" for folder in ("x", "y", "z") for n in range(1, 11)] + ["over/a.csv"]
        existing = client.post("/my-files/existing", json={"keys": asked}).json()["existing"]
        assert [e["key"] for e in existing] == ["over/a.csv", "over/x/1.txt", "over/x/2.txt", "over/y/3.txt"]
        bad = client.post("/my-files/existing", json={"keys": ["ok.csv", "../up.csv"]})
        assert bad.status_code == 400 and "keys[1]" in bad.text
        assert client.post("/my-files/existing", json={"nope": 1}).status_code == 400
        # the form of pages without JavaScript replaces only when its box is ticked; nothing is stored otherwise
        files = [("files", ("a.csv", b"third", "text/csv")), ("files", ("c.csv", b"c", "text/csv"))]
        refused = client.post("/my-files/upload", data={"prefix": "over/"}, files=files, follow_redirects=False)
        assert refused.status_code == 409 and "over/a.csv already exists" in refused.text
        assert client.get("/my-files/download", params={"key": "over/a.csv"}).content == b"second"
        assert client.get("/my-files/download", params={"key": "over/c.csv"}).status_code == 404
        data = {"prefix": "over/", "overwrite": "1"}
        accepted = client.post("/my-files/upload", data=data, files=files, follow_redirects=False)
        assert accepted.status_code == 303
        assert client.get("/my-files/download", params={"key": "over/a.csv"}).content == b"third"
