"""My services (cards, actions, live stream, logs) and account (S3 snippets, Git identity, theme) pages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sardonyx.platform import Platform
from sardonyx.web.services_pages import service_stream, sse_frame

HTMX = {"HX-Request": "true"}


def launch(client: TestClient, chart: str = "jupyter-python", name: str = "nb") -> str:
    response = client.post(
        f"/launcher/builtin/{chart}", data={"action": "launch", "name": name}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].split("launched=")[1]


def wait_status(client: TestClient, service_id: str, status: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(200):
        data = client.get("/my-lab/app", params={"serviceId": service_id}).json()
        if data.get("status") == status:
            return data
    raise AssertionError(f"{service_id} never became {status}: {data}")


def test_cards_show_status_open_password_notes_and_failures(client: TestClient) -> None:
    notebook = launch(client)
    job = launch(client, "python-job", "failing job")
    wait_status(client, notebook, "running")
    wait_status(client, job, "failed")
    html = client.get(f"/my-services?launched={notebook}").text
    assert "Launch requested." in html
    assert f'id="svc-{notebook}"' in html and 'data-status="running"' in html
    assert "status-running" in html and ">Open</a>" in html
    assert "Copy password" in html
    assert "Post-install notes" in html and "<strong>http://127.0.0.1:" in html
    assert f'id="svc-{job}"' in html and "status-failed" in html
    assert "ExitCode" in html and "the script exited with 3" in html
    assert f'sse-connect="/my-services/events?known={notebook},{job}"' in html


def test_actions_answer_the_updated_card(client: TestClient) -> None:
    service = launch(client)
    wait_status(client, service, "running")
    card = client.post(f"/my-services/{service}/suspend", headers=HTMX).text
    assert (card.startswith("<article") and 'data-status="suspended"' in card) or "stopping" in card
    wait_status(client, service, "suspended")
    card = client.post(f"/my-services/{service}/resume", headers=HTMX).text
    assert f'id="svc-{service}"' in card
    wait_status(client, service, "running")
    card = client.post(f"/my-services/{service}/rename", data={"friendly_name": "Renamed"}, headers=HTMX).text
    assert ">Renamed</a>" in card
    bad = client.post(f"/my-services/{service}/rename", data={"friendly_name": "  "}, headers=HTMX)
    assert bad.status_code == 400 and "1 to 200 characters" in bad.text
    plain = client.post(f"/my-services/{service}/delete", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/my-services"
    for _ in range(200):
        if not client.get("/my-lab/services").json()["apps"]:
            break
    assert client.get("/my-lab/services").json()["apps"] == []


def test_delete_all(client: TestClient) -> None:
    for name in ("a", "b", "c"):
        launch(client, name=name)
    html = client.post("/my-services/delete-all", headers=HTMX).text
    assert 'id="services-grid"' in html
    for _ in range(200):
        if not client.get("/my-lab/services").json()["apps"]:
            break
    assert client.get("/my-lab/services").json()["apps"] == []
    assert "You have no service." in client.get("/my-services").text


def test_unknown_service_is_a_clear_page(client: TestClient) -> None:
    response = client.get("/my-services/nope-123")
    assert response.status_code == 404 and "no service &#39;nope-123&#39;" in response.text
    assert client.post("/my-services/nope-123/delete").status_code == 404


def test_service_page_and_logs(client: TestClient) -> None:
    service = launch(client)
    wait_status(client, service, "running")
    html = client.get(f"/my-services/{service}").text
    assert f"sardonyx logs {service} --follow" in html and f"helm uninstall {service}" in html
    assert f'sse-connect="/my-services/{service}/logs/stream"' in html
    assert '<code>security.password</code></td><td><span class="muted">hidden</span>' in html
    text = client.get(f"/my-services/{service}/logs.txt").text
    assert "first <line>" in text and "second line" in text


def test_sse_frames_carry_multiline_html() -> None:
    assert sse_frame("service-a", "<p>\nx</p>") == "event: service-a\ndata: <p>\ndata: x</p>\n\n"
    assert sse_frame("service-a", "") == "event: service-a\ndata: \n\n"


class FakeRequest:
    async def is_disconnected(self) -> bool:
        return False


@pytest.mark.timeout(30)
def test_the_page_stream_sends_new_cards_progress_and_removals(platform: Platform) -> None:
    from sardonyx.runtimes.fake import FakeBehaviour
    from sardonyx.services import LaunchRequest

    async def scenario() -> list[str]:
        await platform.start(watch=True)
        platform.runtime.set_behaviour("jupyter-python", FakeBehaviour.slow(0.3))  # type: ignore[attr-defined]
        frames: list[str] = []
        stream = service_stream(FakeRequest(), platform, set())  # type: ignore[arg-type]
        try:
            assert (await anext(stream)).startswith(": stream open")
            view = await platform.manager.launch(platform.user, LaunchRequest(chart="jupyter-python"))
            async with asyncio.timeout(10):
                while not any('data-status="running"' in f for f in frames):
                    frames.append(await anext(stream))
                await platform.manager.delete(platform.user, view.id)
                while not frames[-1].startswith(f"event: service-{view.id}\ndata: \n"):
                    frames.append(await anext(stream))
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
            await platform.stop()
        return frames

    frames = asyncio.run(scenario())
    assert frames[0].startswith("event: new\n")
    assert any('role="progressbar"' in f for f in frames)
    assert any('data-status="running"' in f for f in frames)


def test_account_storage_shows_credentials_and_snippets(client: TestClient) -> None:
    html = client.get("/account/storage").text
    assert 'value="http://127.0.0.1:8430"' in html and 'value="AK-user-alice"' in html
    assert 'type="password" value="SK-user-alice"' in html
    for title in ("boto3", "s3fs", "pyarrow", "polars", "DuckDB", "R: arrow", "AWS CLI", "MinIO client"):
        assert title in html
    assert "aws_secret_access_key=&#39;SK-user-alice&#39;" in html
    assert "mc alias set sardonyx http://127.0.0.1:8430 AK-user-alice SK-user-alice --path on" in html
    assert client.get("/account", follow_redirects=False).headers["location"] == "/account/storage"
    assert client.get("/account/nope").status_code == 404


def test_git_identity_is_saved_and_injected_into_launches(client: TestClient, platform: Platform) -> None:
    form = {"name": "Ada Lovelace", "email": "ada@example.org", "token": "ghp_x", "credentials_cache_duration": "60"}
    response = client.post("/account/git", data=form, follow_redirects=False)
    assert response.status_code == 303
    html = client.get("/account/git?saved=1").text
    assert 'value="Ada Lovelace"' in html and "New launches use this identity." in html
    service = launch(client)
    env = client.get("/my-lab/app", params={"serviceId": service}).json()["env"]
    assert env["git.name"] == "Ada Lovelace" and env["git.email"] == "ada@example.org"
    assert env["git.token"] == "ghp_x" and env["git.cache"] == "60"


def test_invalid_git_identity_keeps_what_was_typed(client: TestClient) -> None:
    form = {"name": "Ada", "email": "not an email", "token": "", "credentials_cache_duration": "-5"}
    response = client.post("/account/git", data=form)
    assert response.status_code == 200 and "Fix the highlighted fields." in response.text
    assert "must be an e-mail address" in response.text and 'value="not an email"' in response.text
    assert "greater than or equal to 0" in response.text


def test_theme_is_kept_in_a_cookie_and_rendered(client: TestClient) -> None:
    response = client.post("/account/interface", data={"theme": "dark"}, follow_redirects=False)
    assert response.status_code == 303 and "sardonyx_theme=dark" in response.headers["set-cookie"]
    client.cookies.set("sardonyx_theme", "dark")
    assert '<html lang="en" data-theme="dark" data-theme-choice="dark">' in client.get("/catalog/builtin").text
    assert client.post("/account/interface", data={"theme": "purple"}).status_code == 400
