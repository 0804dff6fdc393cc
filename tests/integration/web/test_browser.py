"""The web UI in Debian's chromium (headless, Playwright): what a user does, with the real platform behind it.

Every test asserts that the platform's pages logged no console error.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.web.conftest import Browser, LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

CSV = "code,label,count\n01.11Z,Culture de céréales,12\n62.01Z,Programmation informatique,40\n"


def own_errors(browser: Browser, live: LiveServer) -> list[str]:
    """Console errors of the platform's own pages (a launched service's pages are its own business)."""
    return [error for error in browser.errors if error.startswith(live.url)]


@pytest.mark.timeout(900)
def test_launch_jupyter_from_the_catalog_watch_it_run_open_it_and_delete_it(
    live_server: LiveServer, browser: Browser
) -> None:
    page = browser.page()
    page.goto(f"{live_server.url}/catalog")
    page.get_by_role("link", name="Launch jupyter-python").click()
    page.wait_for_url("**/launcher/builtin/jupyter-python")
    page.get_by_label("Friendly name").fill("My notebook")
    shown = page.locator('[name="f:security.password"]').input_value()
    page.get_by_label("Friendly name").dispatch_event("change")  # the side panel is recomputed by the server
    share = page.locator("#share-url", has_text="name=My%20notebook")
    share.wait_for()
    assert shown not in share.inner_text()  # a link to share never carries the password
    page.get_by_role("button", name="Launch", exact=True).click()
    page.wait_for_url("**/my-services?launched=*")
    card = page.locator(".service-card", has_text="My notebook")
    card.wait_for()
    # the status arrives over server-sent events: no reload, no polling
    card.locator('.status:text-is("running")').wait_for(timeout=600_000)
    service_id = card.get_attribute("data-service")
    assert service_id is not None
    with live_server.api() as client:
        service = client.get("/my-lab/app", params={"serviceId": service_id}).json()
    assert service["password"] == shown  # the launched service got the one-time password the form showed
    with page.expect_popup() as popup_info:
        card.get_by_role("link", name="Open").click()
    lab = popup_info.value
    lab.wait_for_load_state()
    assert lab.url.startswith(service["urls"][0].split("/lab")[0])
    # "Open" logs in (JupyterLab's token in the URL): never Jupyter's token page (issue 10)
    lab.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    assert "/login" not in lab.url and lab.locator("input#password_input").count() == 0
    lab.close()
    page.on("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Delete My notebook").click()
    page.locator(f"#svc-{service_id}").wait_for(state="detached", timeout=60_000)
    page.get_by_text("You have no service.").wait_for()
    assert own_errors(browser, live_server) == []


def test_an_invalid_value_is_shown_inline_and_nothing_is_launched(live_server: LiveServer, browser: Browser) -> None:
    page = browser.page()
    page.goto(f"{live_server.url}/launcher/builtin/jupyter-python")
    page.fill('[name="f:networking.port"]', "eighty")
    page.get_by_role("button", name="Launch", exact=True).click()
    field = page.locator('[data-path="networking.port"]')
    field.locator(".error-text", has_text="expected an integer").wait_for()
    assert page.locator('[name="f:networking.port"]').input_value() == "eighty"
    assert page.locator('[name="f:networking.port"]').get_attribute("aria-invalid") == "true"
    summary = page.locator("#violations")
    assert "1 problem to fix" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "violations"
    with live_server.api() as client:
        assert client.get("/my-lab/services").json()["apps"] == []
    # hidden fields follow the values they depend on, on the page
    assert page.locator('[data-path="s3.bucket"]').is_visible()
    page.uncheck('[name="f:s3.enabled"]')
    assert not page.locator('[data-path="s3.bucket"]').is_visible()
    assert own_errors(browser, live_server) == []


def test_upload_a_csv_preview_it_and_download_it_through_a_share_link(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    data = tmp_path / "naf.csv"
    data.write_text(CSV)
    page = browser.page()
    page.goto(f"{live_server.url}/my-files")
    page.set_input_files("#upload-files", str(data))
    page.locator('.upload-row[data-upload="done"]').wait_for()
    row = page.locator('tr[data-key="naf.csv"]')
    row.wait_for()
    row.get_by_role("link", name="Preview naf.csv").click()
    page.wait_for_url("**/my-files/preview?key=naf.csv")
    schema = page.locator("#schema").inner_text()
    assert "code" in schema and "BIGINT" in schema
    assert "Programmation informatique" in page.locator("#rows").inner_text()
    page.go_back()
    row = page.locator('tr[data-key="naf.csv"]')
    row.get_by_role("button", name="Share naf.csv").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Link valid for").select_option(label="1 day")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.locator("[data-share-link]")
    link.wait_for()
    response = httpx.get(link.inner_text().strip())
    assert response.status_code == 200 and response.text == CSV
    assert own_errors(browser, live_server) == []


def test_uploading_over_an_existing_file_asks_first_and_works_with_the_keyboard(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    first, second = tmp_path / "v1" / "naf.csv", tmp_path / "v2" / "naf.csv"
    for path, text in ((first, CSV), (second, CSV + "96.02A,Coiffure,7\n")):
        path.parent.mkdir()
        path.write_text(text)
    page = browser.page()
    page.goto(f"{live_server.url}/my-files")
    page.set_input_files("#upload-files", str(first))
    page.locator('.upload-row[data-upload="done"]').wait_for()
    page.locator('tr[data-key="naf.csv"]').wait_for()
    page.get_by_text("0 folders, 1 file (").wait_for()  # the count under the table follows the uploads
    # the same name again: the page asks; Escape cancels and nothing is sent
    page.set_input_files("#upload-files", str(second))
    dialog = page.locator("#overwrite-dialog[open]")
    dialog.wait_for()
    assert "naf.csv" in dialog.locator("#overwrite-list").inner_text()
    assert page.evaluate("document.activeElement.textContent") == "Cancel the upload"  # the safe choice first
    page.keyboard.press("Escape")
    page.get_by_text("Upload cancelled: nothing was sent.").wait_for()
    with live_server.api() as client:
        assert client.get("/my-files/download", params={"key": "naf.csv"}).text == CSV
    # again, and replace it with the keyboard alone
    page.set_input_files("#upload-files", str(second))
    dialog.wait_for()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.textContent") == "Replace"
    page.keyboard.press("Enter")
    page.locator('.upload-row[data-upload="done"]').nth(1).wait_for()
    with live_server.api() as client:
        assert client.get("/my-files/download", params={"key": "naf.csv"}).text.endswith("Coiffure,7\n")
    # "skip" leaves it as it is
    page.set_input_files("#upload-files", str(first))
    dialog.wait_for()
    dialog.get_by_role("button", name="Skip them").click()
    page.locator('.upload-row[data-upload="skipped"]').wait_for()
    with live_server.api() as client:
        assert client.get("/my-files/download", params={"key": "naf.csv"}).text.endswith("Coiffure,7\n")
    assert own_errors(browser, live_server) == []


@pytest.mark.parametrize("width", [1280, 390])
def test_pages_fit_the_screen_in_dark_mode_and_work_with_the_keyboard(
    live_server: LiveServer, browser: Browser, width: int
) -> None:
    browser.context.add_cookies([{"name": "sardonyx_theme", "value": "dark", "url": live_server.url}])
    page = browser.page(width=width)
    paths = ["/catalog/builtin", "/launcher/builtin/jupyter-python", "/my-services", "/my-files"]
    for path in [*paths, "/account/storage", "/account/git", "/account/interface"]:
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is wider than {width} px by {overflow} px"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(22, 20, 18)"
    # keyboard: skip link first, then search the catalog and launch from the result
    page.goto(f"{live_server.url}/catalog/builtin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.focus("#catalog-search")
    page.keyboard.type("tracking")
    page.locator('[data-chart="jupyter-python"]').wait_for(state="detached")
    assert page.locator("[data-chart]").count() == 1
    page.locator('[data-chart="mlflow"] a').focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/launcher/builtin/mlflow")
    assert own_errors(browser, live_server) == []


def test_unknown_chart_and_service_are_clear_pages(live_server: LiveServer, browser: Browser) -> None:
    page = browser.page()
    response = page.goto(f"{live_server.url}/launcher/builtin/not-a-chart")
    assert response is not None and response.status == 404
    assert "no chart 'not-a-chart'" in page.locator("main").inner_text()
    response = page.goto(f"{live_server.url}/my-services/ghost-123456")
    assert response is not None and response.status == 404
    assert "no service 'ghost-123456'" in page.locator("main").inner_text()
    # the 404 of the document is the only console error: nothing else broke
    assert all("404" in error for error in own_errors(browser, live_server))
