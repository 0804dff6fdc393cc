"""Secrets masked wherever values, commands and snippets are printed, with an explicit reveal (issue 10): the
launcher's and the service page's Helm blocks, the account page's snippets, the REST commands and dry runs."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from sardonyx.masking import MASK, is_secret_key, mask_text, mask_values, secret_strings
from tests.unit.web.test_services_account import launch, wait_status


def pre_text(page: str, element_id: str) -> tuple[str, str | None]:
    """(the text shown in ``<pre id=...>``, its ``data-clear`` attribute or None), unescaped."""
    match = re.search(rf'<pre[^>]*id="{element_id}"([^>]*)>(.*?)</pre>', page, re.DOTALL)
    assert match is not None, element_id
    clear = re.search(r'data-clear="([^"]*)"', match.group(1))
    return html.unescape(match.group(2)), html.unescape(clear.group(1)) if clear else None


def test_the_launcher_shows_masked_commands_with_a_reveal(client: TestClient) -> None:
    page = client.get("/launcher/builtin/jupyter-python").text
    password = re.search(r'name="f:security.password" value="([^"]+)"', page)
    assert password is not None  # the launcher session's one-time password, in its form field
    shown, clear = pre_text(page, "cmd-helm")
    assert "password: '********'" in shown or f"password: {MASK}" in shown
    assert "SK-user-alice" not in shown
    assert clear is not None and "SK-user-alice" not in clear  # the launcher previews placeholder keys
    assert MASK not in clear.split("password:", 1)[1].split("\n", 1)[0]
    assert 'data-reveal-text="cmd-helm"' in page
    assert password.group(1) not in shown and password.group(1) in clear


def test_the_service_page_masks_its_helm_block(client: TestClient) -> None:
    service = launch(client)
    wait_status(client, service, "running")
    password = client.get("/my-lab/app", params={"serviceId": service}).json()["password"]
    page = client.get(f"/my-services/{service}").text
    shown, clear = pre_text(page, "svc-cmd-helm")
    assert password not in shown and "SK-user-alice" not in shown and MASK in shown
    assert clear is not None and password in clear and "SK-user-alice" in clear
    assert f'data-copy="{password}"' in client.get("/my-services").text  # "copy password" stays for the owner


def test_account_snippets_are_masked_like_the_field_above(client: TestClient) -> None:
    page = client.get("/account/storage").text
    shown, clear = pre_text(page, "snippet-boto3")
    assert "SK-user-alice" not in shown and f"aws_secret_access_key='{MASK}'" in shown and "AK-user-alice" in shown
    assert clear is not None and "aws_secret_access_key='SK-user-alice'" in clear


def test_rest_commands_and_dry_runs_are_masked_unless_revealed(client: TestClient) -> None:
    service = launch(client)
    wait_status(client, service, "running")
    password = client.get("/my-lab/app", params={"serviceId": service}).json()["password"]
    masked = "\n".join(client.get(f"/services/{service}/commands").json()["install"])
    assert password not in masked and "SK-user-alice" not in masked and MASK in masked
    clear = "\n".join(client.get(f"/services/{service}/commands", params={"reveal": "true"}).json()["install"])
    assert password in clear and "SK-user-alice" in clear
    body = {"catalogId": "builtin", "packageName": "jupyter-python", "dryRun": True}
    preview = client.put("/my-lab/app", json=body).json()
    assert preview["values"]["security"]["password"] == MASK
    assert MASK in "\n".join(preview["commands"]["helm"])
    revealed = client.put("/my-lab/app", json=body | {"reveal": True}).json()
    assert revealed["values"]["security"]["password"] not in {MASK, ""}


def test_the_masking_rule() -> None:
    for key in ("password", "adminPassword", "secretAccessKey", "sessionToken", "token", "secret_key", "apiKey"):
        assert is_secret_key(key), key
    for key in ("accessKeyId", "endpoint", "bucket", "passwordPolicy", "tokenize", "secret"):
        assert not is_secret_key(key), key
    values = {
        "s3": {"accessKeyId": "AK", "secretAccessKey": "SK-123"},
        "git": {"token": "ghp_x1"},
        "n": [{"password": ""}],
    }
    assert mask_values(values) == {"s3": {"accessKeyId": "AK", "secretAccessKey": MASK}, "git": {"token": MASK},
                                   "n": [{"password": ""}]}  # fmt: skip
    assert secret_strings(values) == {"SK-123", "ghp_x1"}
    assert mask_text("url?token=ghp_x1 key SK-123", secret_strings(values)) == f"url?token={MASK} key {MASK}"
