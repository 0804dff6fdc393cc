"""Assets, Markdown, share tokens, snippets, rendering helpers and the routes' HTML error handling."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sardonyx.errors import NotFound, UnavailableError
from sardonyx.storage import S3Credentials
from sardonyx.web.assets import NPM_ASSETS, NpmAsset, ensure_assets, install_asset, missing_assets, verify_integrity
from sardonyx.web.markdown import render_markdown
from sardonyx.web.render import filesize, highlight, timeago
from sardonyx.web.share import ShareLinkExpired, make_token, read_token
from sardonyx.web.snippets import snippets


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_pinned_assets_are_registry_tarballs_with_sha512_integrity() -> None:
    for asset in NPM_ASSETS:
        assert asset.tarball_url.startswith(f"https://registry.npmjs.org/{asset.package}/-/")
        assert asset.integrity.startswith("sha512-") and len(base64.b64decode(asset.integrity[7:])) == 64
    assert {served for asset in NPM_ASSETS for _, served in asset.files} == {"htmx.min.js", "sse.min.js"}


def test_install_verifies_integrity_and_extracts_only_the_listed_files(tmp_path: Path) -> None:
    data = tarball({"package/dist/lib.min.js": b"console.log(1)", "package/other.js": b"x"})
    asset = NpmAsset("lib", "1.0.0", integrity(data), (("package/dist/lib.min.js", "lib.min.js"),))
    written = install_asset(asset, data, tmp_path)
    assert written == [tmp_path / "lib-1.0.0" / "lib.min.js"]
    assert written[0].read_bytes() == b"console.log(1)"
    assert sorted(p.name for p in (tmp_path / "lib-1.0.0").iterdir()) == ["lib.min.js"]
    with pytest.raises(UnavailableError, match="integrity check failed"):
        install_asset(asset, data + b"tampered", tmp_path)
    with pytest.raises(UnavailableError, match="unsupported integrity"):
        verify_integrity(data, "sha1-abc")
    broken = NpmAsset("lib", "1.0.0", integrity(data), (("package/missing.js", "missing.js"),))
    with pytest.raises(UnavailableError, match="unreadable tarball"):
        install_asset(broken, data, tmp_path)


def test_ensure_assets_does_nothing_when_everything_is_there(tmp_path: Path) -> None:
    for asset in NPM_ASSETS:
        for _, served in asset.files:
            (tmp_path / asset.folder).mkdir(exist_ok=True)
            (tmp_path / asset.folder / served).write_text("cached")
    assert missing_assets(tmp_path) == []
    assert ensure_assets(tmp_path) == tmp_path  # no network needed


def test_markdown_is_sanitised() -> None:
    html = str(render_markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://a.org)"))
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html.replace("[x](javascript:alert(1))", "")
    assert '<a href="https://a.org" target="_blank" rel="noopener noreferrer">ok</a>' in html
    assert str(render_markdown(None)) == "" and str(render_markdown("  ")) == ""


def test_rendering_helpers() -> None:
    assert [filesize(n) for n in (0, 999, 1500, 12_000_000, 3_200_000_000)] == ["0 B", "999 B", "1.5 kB", "12 MB",
                                                                               "3.2 GB"]  # fmt: skip
    assert str(highlight("Data <b> data", "data")) == "<mark>Data</mark> &lt;b&gt; <mark>data</mark>"
    assert timeago(1000.0, now=1030.0) == "just now"
    assert timeago(1000.0, now=1000.0 + 7200) == "2 hours ago"


def test_share_tokens_expire_and_cannot_be_forged() -> None:
    token = make_token("user-alice", "data/a.csv", 3600, "secret", now=1000.0)
    shared = read_token(token, "secret", now=2000.0)
    assert (shared.bucket, shared.key, shared.expires_at) == ("user-alice", "data/a.csv", 4600)
    with pytest.raises(ShareLinkExpired, match=r"a\.csv expired on 1970-01-01 01:16 UTC"):
        read_token(token, "secret", now=5000.0)
    with pytest.raises(NotFound):
        read_token(token, "another secret", now=2000.0)
    payload, signature = token.split(".")
    with pytest.raises(NotFound):
        read_token(payload[:-2] + "xx." + signature, "secret", now=2000.0)
    with pytest.raises(NotFound):
        read_token("garbage", "secret")
    with pytest.raises(Exception, match="lifetime"):
        make_token("b", "k", 8 * 86400, "secret")


def test_snippets_embed_the_credentials_for_every_tool() -> None:
    credentials = S3Credentials("AK", "SK'x", "https://s3.example.org", "user-bob", region="eu", session_token="TOK")
    by_id = {s.id: s for s in snippets(credentials)}
    assert set(by_id) == {"boto3", "s3fs", "pyarrow", "polars", "duckdb", "r-arrow", "aws-cli", "mc"}
    assert 'aws_secret_access_key="SK\'x"' in by_id["boto3"].code and "aws_session_token='TOK'" in by_id["boto3"].code
    assert "endpoint_override='s3.example.org'" in by_id["pyarrow"].code and "scheme='https'" in by_id["pyarrow"].code
    assert "USE_SSL true" in by_id["duckdb"].code and "SESSION_TOKEN 'TOK'" in by_id["duckdb"].code
    assert "export AWS_SECRET_ACCESS_KEY='SK'\"'\"'x'" in by_id["aws-cli"].code
    assert 'session_token = "TOK"' in by_id["r-arrow"].code
    compile(by_id["boto3"].code, "boto3", "exec")
    compile(by_id["s3fs"].code, "s3fs", "exec")
    compile(by_id["polars"].code, "polars", "exec")


def test_cross_site_posts_are_refused(client: TestClient) -> None:
    response = client.post(
        "/launcher/builtin/jupyter-python", data={"action": "launch"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403 and "sent from another site" in response.text
    response = client.post("/my-services/delete-all", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert client.get("/my-lab/services").json()["apps"] == []


def test_unknown_pages_are_html_for_browsers_and_problems_for_the_api(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "there is no page at /no/such/page" in page.text
    problem = client.get("/my-lab/nothing-here", headers={"Accept": "text/html"})
    assert problem.status_code == 404 and problem.headers["content-type"] == "application/problem+json"
    assert client.get("/no/such/page").headers["content-type"] == "application/problem+json"


def test_static_files(client: TestClient) -> None:
    css = client.get("/static/sardonyx.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/sardonyx.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404
    assert client.get("/static/vendor/evil.js").status_code == 404


def test_vendor_files_are_served_from_the_assets_cache(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SARDONYX_WEB_ASSETS_DIR", str(tmp_path))
    for asset in NPM_ASSETS:
        (tmp_path / asset.folder).mkdir()
        for _, served in asset.files:
            (tmp_path / asset.folder / served).write_text(f"/* {served} */")
    response = client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200 and response.text == "/* htmx.min.js */"
    assert response.headers["content-type"].startswith("text/javascript")


def test_the_assets_module_imports_without_the_web_app() -> None:
    """`sardonyx up` and `sardonyx web assets` import ``sardonyx.web.assets``: the pages (FastAPI, Jinja2, the
    catalog engine) must not come with it (they take most of a second); ``sardonyx.web``'s names still work."""
    import subprocess
    import sys

    code = (
        "import sys, sardonyx.web.assets\n"
        "heavy = [m for m in ('fastapi', 'jinja2', 'sardonyx.web.app', 'sardonyx.catalog') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from sardonyx import web\n"
        "assert callable(web.install) and web.router.routes\n"
        "assert web.ensure_assets is sardonyx.web.assets.ensure_assets\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
