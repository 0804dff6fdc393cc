""" "Open" logs the user into the service (issue 10): JupyterLab's token in the URL, from the web UI and the CLI's
``loginUrl``; services without a login rule open at their plain URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.unit.web.test_services_account import wait_status


def test_open_carries_jupyters_token_and_plain_urls_stay_plain(client: TestClient) -> None:
    launched = client.put("/my-lab/app", json={"catalogId": "builtin", "packageName": "jupyter-python"}).json()
    wait_status(client, launched["id"], "running")
    service = client.get("/my-lab/app", params={"serviceId": launched["id"]}).json()
    login = service["loginUrl"]
    assert login.startswith(service["urls"][0]) and parse_qs(urlsplit(login).query)["token"] == [service["password"]]
    cards = client.get("/my-services").text
    assert f'href="{login.replace("&", "&amp;")}"' in cards and 'rel="noopener noreferrer" data-open>Open' in cards
    other = client.put("/my-lab/app", json={"catalogId": "builtin", "packageName": "mlflow"}).json()
    wait_status(client, other["id"], "running")
    mlflow = client.get("/my-lab/app", params={"serviceId": other["id"]}).json()
    assert mlflow["loginUrl"] == mlflow["urls"][0]
