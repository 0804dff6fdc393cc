"""Catalog and launcher pages: cards and search, every widget kind, inline violations, launch URLs."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi.testclient import TestClient

from sardonyx.platform import Platform


def field_block(html: str, path: str) -> str:
    """The HTML of the field whose values path is ``path``."""
    match = re.search(
        rf'<div class="field[^"]*" id="[^"]+-field" data-path="{re.escape(path)}"(.*?)\n</div>', html, re.S
    )
    assert match is not None, f"no field {path}"
    return match.group(0)


def test_root_and_catalog_redirect_to_the_first_catalog(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/catalog"
    response = client.get("/catalog", follow_redirects=False)
    assert response.headers["location"] == "/catalog/builtin"


def test_catalog_page_has_tabs_cards_and_launch_links(client: TestClient) -> None:
    html = client.get("/catalog/builtin").text
    assert 'aria-current="page">Built-in services</a>' in html
    assert ">Test charts</a>" in html
    for chart in ("jupyter-python", "mlflow", "python-api", "python-job"):
        assert f'data-chart="{chart}"' in html
        assert f'href="/launcher/builtin/{chart}"' in html
    assert "version 1.0.0" in html


def test_search_filters_on_name_and_description_and_highlights(client: TestClient) -> None:
    html = client.get("/catalog/builtin", params={"q": "tracking"}).text
    assert 'data-chart="mlflow"' in html and 'data-chart="jupyter-python"' not in html
    assert "<mark>tracking</mark>" in html
    html = client.get("/catalog/builtin", params={"q": "JUPYTER"}).text
    assert 'data-chart="jupyter-python"' in html and "<mark>jupyter</mark>" in html
    html = client.get("/catalog/builtin", params={"q": "nothing-matches"}).text
    assert "No chart matches" in html


def test_chart_descriptions_are_escaped(client: TestClient) -> None:
    html = client.get("/catalog/test").text
    assert "Every &lt;b&gt;widget&lt;/b&gt; kind." in html


def test_unknown_catalog_and_chart_are_clear_pages(client: TestClient) -> None:
    response = client.get("/catalog/nope")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]
    assert "there is no catalog &#39;nope&#39;" in response.text
    response = client.get("/launcher/builtin/no-such-chart")
    assert response.status_code == 404
    assert "no chart &#39;no-such-chart&#39;" in response.text and "jupyter-python" in response.text
    response = client.get("/launcher/builtin/jupyter-python", params={"version": "9.9.9"})
    assert response.status_code == 404 and "has no version" in response.text


def test_launcher_renders_every_widget_kind(client: TestClient) -> None:
    html = client.get("/launcher/test/widgets").text
    assert 'name="f:service.name" value="demo"' in html
    assert re.search(r'<textarea id="[^"]+" name="f:service.notes"[^>]*>line 1</textarea>', html)
    assert 'type="password" id="f-service-secret" name="f:service.secret" value="s3cret"' in html
    assert 'inputmode="decimal" id="f-service-ratio" name="f:service.ratio" value="0.5"' in html
    assert 'inputmode="numeric" id="f-service-replicas" name="f:service.replicas" value="1"' in html
    assert 'type="checkbox" id="f-service-debug" name="f:service.debug"' in html
    assert 'name="c:service.debug"' in html
    image = field_block(html, "service.image")
    assert "<select" in image and ">python:3.12</option>" in image
    assert "readonly" in field_block(html, "service.fixed") and "readonly" in field_block(html, "service.locked")
    assert 'name="c:service.locked"' not in html
    assert "service.internal" not in html  # statically hidden: not on the page
    level = field_block(html, "service.debugLevel")
    assert " hidden" in level and "data-hide-when" in level and "&#34;debug&#34;" in level
    # range slider: both ends in one widget, numbers without their unit
    assert "guaranteed" in html.lower() and "maximum" in html.lower()
    assert 'name="f:resources.requests.cpu" value="100"' in html
    assert 'name="f:resources.limits.cpu" value="2000"' in html
    assert 'name="f:resources.memory" value="2"' in html and '<span class="unit">Gi</span>' in html
    assert re.search(r'<textarea class="code" id="f-extraValues" name="f:extraValues"[^>]*>a: 1\n</textarea>', html)
    assert 'name="n:env" value="0"' in html and 'value="add:env"' in html
    assert "<strong>main</strong>" in html  # descriptions are Markdown
    assert "version" in html and ">2.0.0 (default)</option>" in html and ">1.0.0</option>" in html


def test_invalid_values_are_shown_next_to_their_fields_and_nothing_is_launched(
    client: TestClient, platform: Platform
) -> None:
    form = {
        "action": "launch",
        "name": "my widgets",
        "f:service.name": "Not Valid",
        "f:service.replicas": "nine",
        "f:service.ratio": "3",
        "f:extraValues": "a: [unclosed",
    }
    response = client.post("/launcher/test/widgets", data=form)
    assert response.status_code == 200  # the form again, with its errors (browsers log 4xx documents as errors)
    html = response.text
    assert "4 problems to fix before launching" in html
    name = field_block(html, "service.name")
    assert "does not match the pattern" in name and 'value="Not Valid"' in name and 'aria-invalid="true"' in name
    assert "expected an integer" in field_block(html, "service.replicas")
    assert 'value="nine"' in field_block(html, "service.replicas")
    assert "must be &lt;= 1" in field_block(html, "service.ratio")
    assert "not valid YAML" in field_block(html, "extraValues")
    assert 'value="my widgets"' in html
    assert client.get("/my-lab/services").json()["apps"] == []


def test_a_valid_form_launches_and_redirects_to_my_services(client: TestClient) -> None:
    form = {
        "action": "launch",
        "name": "Team notebook",
        "c:service.debug": "1",
        "f:service.debug": "on",
        "f:service.debugLevel": "1",
        "f:service.image": "1",
        "f:resources.requests.cpu": "200",
        "f:resources.memory": "4",
        "f:extraValues": "b: two\n",
    }
    response = client.post("/launcher/test/widgets", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    service_id = response.headers["location"].split("launched=")[1]
    service = client.get("/my-lab/app", params={"serviceId": service_id}).json()
    assert service["friendlyName"] == "Team notebook"
    env = service["env"]
    assert env["service.debug"] == "true" and env["service.debugLevel"] == "trace"
    assert env["service.image"] == "python:3.12"
    assert env["resources.requests.cpu"] == "200m" and env["resources.limits.cpu"] == "2000m"
    assert env["resources.memory"] == "4Gi" and env["extraValues.b"] == "two"


def test_preview_updates_commands_and_share_links(client: TestClient) -> None:
    form = {"action": "preview", "name": "nb", "subdomain": "123456", "f:service.replicas": "3"}
    html = client.post("/launcher/test/widgets", data=form, headers={"HX-Request": "true"}).text
    assert "sardonyx launch widgets --name nb --set service.replicas=3" in html
    assert "helm install widgets-123456" in html and "replicas: 3" in html
    assert "/launcher/test/widgets?name=nb&amp;service.replicas=3" in html
    assert "autoLaunch=true" in html


def test_restore_defaults_and_array_items(client: TestClient) -> None:
    html = client.post("/launcher/test/widgets", data={"action": "add:env", "n:env": "0"}).text
    assert 'name="n:env" value="1"' in html and 'name="f:env[0].name" value="KEY"' in html
    data = {"action": "add:env", "n:env": "1", "f:env[0].name": "FIRST", "f:env[0].value": "1"}
    html = client.post("/launcher/test/widgets", data=data).text
    assert 'name="f:env[0].name" value="FIRST"' in html and 'name="f:env[1].name" value="KEY"' in html
    data = {"action": "remove:env:0", "n:env": "2", "f:env[0].name": "FIRST", "f:env[1].name": "SECOND"}
    html = client.post("/launcher/test/widgets", data=data).text
    assert 'name="n:env" value="1"' in html and 'name="f:env[0].name" value="SECOND"' in html
    html = client.post("/launcher/test/widgets", data={"action": "restore", "f:service.name": "changed"}).text
    assert 'name="f:service.name" value="demo"' in html


def test_launch_url_prefills_the_form(client: TestClient) -> None:
    url = "/launcher/test/widgets?name=from-url&service.name=" + quote("«fromurl»") + "&service.replicas=4"
    html = client.get(url).text
    assert 'value="from-url"' in html
    assert 'name="f:service.name" value="fromurl"' in html and 'name="f:service.replicas" value="4"' in html
    assert client.get("/my-lab/services").json()["apps"] == []


def test_auto_launch_url_launches_at_once_when_valid(client: TestClient) -> None:
    url = "/launcher/test/widgets?autoLaunch=true&name=auto&service.replicas=2"
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303
    apps = client.get("/my-lab/services").json()["apps"]
    assert [a["friendlyName"] for a in apps] == ["auto"] and apps[0]["env"]["service.replicas"] == "2"


def test_auto_launch_with_invalid_values_shows_the_form_with_errors(client: TestClient) -> None:
    response = client.get("/launcher/test/widgets?autoLaunch=true&service.replicas=99&no.such.path=1")
    assert response.status_code == 200
    assert "must be &lt;= 5" in field_block(response.text, "service.replicas")
    assert "no.such.path" in response.text
    assert client.get("/my-lab/services").json()["apps"] == []


def test_jupyter_python_launcher_and_its_launch(client: TestClient) -> None:
    html = client.get("/launcher/builtin/jupyter-python").text
    assert "&lt;AWS_ACCESS_KEY_ID&gt;" in html  # placeholders: no credentials issued to show a form
    response = client.post(
        "/launcher/builtin/jupyter-python", data={"action": "launch", "name": "nb"}, follow_redirects=False
    )
    assert response.status_code == 303
    service = client.get("/my-lab/services").json()["apps"][0]
    assert service["env"]["s3.accessKeyId"] == "AK-user-alice"  # the real credentials at launch


def _input_value(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match is not None, f"no input {name}"
    return match.group(1)


def test_the_service_gets_the_one_time_password_the_form_showed_and_no_link_carries_it(client: TestClient) -> None:
    html = client.get("/launcher/builtin/jupyter-python").text
    shown = _input_value(html, "f:security.password")
    session = {"subdomain": _input_value(html, "subdomain"), "otp": _input_value(html, "otp")}
    assert session["otp"] == shown and len(shown) == 24
    form = {**session, "name": "nb", "f:security.password": shown, "f:networking.port": "8899"}
    side = client.post("/launcher/builtin/jupyter-python", data={**form, "action": "preview"}).text
    for element in ("share-url", "autolaunch-url", "cmd-sardonyx"):
        text = re.search(rf'id="{element}">(.*?)</pre>', side, re.S)
        assert text is not None and "networking.port" in text.group(1) and shown not in text.group(1)
    assert "1 change from the defaults" in side  # the password is no change
    response = client.post(
        "/launcher/builtin/jupyter-python", data={**form, "action": "launch"}, follow_redirects=False
    )
    assert response.status_code == 303
    service = client.get("/my-lab/services").json()["apps"][0]
    assert service["password"] == shown
    assert service["id"] == f"jupyter-python-{session['subdomain']}"  # the release the helm command showed


def test_a_password_the_user_typed_is_launched_but_never_put_in_a_launch_url(client: TestClient) -> None:
    html = client.get("/launcher/builtin/jupyter-python").text
    form = {"subdomain": _input_value(html, "subdomain"), "otp": _input_value(html, "otp"), "name": "nb"}
    form["f:security.password"] = "MyOwnPassword123"
    side = client.post("/launcher/builtin/jupyter-python", data={**form, "action": "preview"}).text
    share = re.search(r'id="share-url">(.*?)</pre>', side, re.S)
    assert share is not None and "MyOwnPassword123" not in share.group(1)
    client.post("/launcher/builtin/jupyter-python", data={**form, "action": "launch"}, follow_redirects=False)
    assert client.get("/my-lab/services").json()["apps"][0]["password"] == "MyOwnPassword123"


def test_a_malformed_launcher_session_is_drawn_again(client: TestClient) -> None:
    form = {"subdomain": "not-digits", "otp": "bad otp", "action": "preview"}
    html = client.post("/launcher/builtin/jupyter-python", data=form).text
    assert re.fullmatch(r"\d{1,6}", _input_value(html, "subdomain"))
    assert re.fullmatch(r"[A-Za-z0-9]{24}", _input_value(html, "otp"))
    assert _input_value(html, "otp") == _input_value(html, "f:security.password")


def test_the_vault_section_is_hidden_where_the_region_has_no_vault(client: TestClient) -> None:
    html = client.get("/launcher/builtin/jupyter-python").text
    vault = re.search(r'<details[^>]*id="g-vault"[^>]*>', html)
    s3 = re.search(r'<details[^>]*id="g-s3"[^>]*>', html)
    assert vault is not None and " hidden" in vault.group(0)
    assert s3 is not None and " hidden" not in s3.group(0)  # this platform has S3
    assert 'name="f:vault.enabled"' in html and 'name="f:vault.enabled" checked' not in html
    client.post("/launcher/builtin/jupyter-python", data={"action": "launch", "name": "nb"}, follow_redirects=False)
    env = client.get("/my-lab/services").json()["apps"][0]["env"]
    assert env["vault.enabled"] == "false" and env["s3.enabled"] == "true"
