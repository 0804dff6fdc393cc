"""The model API on fakes: answers, Insee's validation rules, limits, errors, authentication, CORS, health."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from codif.serve.schemas import MAX_BATCH_FORMS, MAX_DESCRIPTION_CHARS
from codif.serve.settings import ServeSettings

from .conftest import Api, FakeCoder, FakeSource, make_api


def _lines(api: Api) -> list[dict[str, Any]]:
    api.log.flush()
    lines = []
    for path in sorted(api.log.directory.glob("*.jsonl*")):
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


def test_get_predict_answers_top_codes_ic_and_version(api: Api) -> None:
    answer = api.client.get("/predict", params={"description": "Boulangerie pâtisserie", "type_form": "C"})
    assert answer.status_code == 200
    body = answer.json()
    assert [c["code"] for c in body["candidates"]] == ["1071C", "9602A", "6201Z", "4399C", "7022Z"]
    assert body["candidates"][0] == {
        "code": "1071C",
        "label": "Boulangerie et boulangerie-pâtisserie",
        "probability": 0.7,
    }
    assert body["ic"] == pytest.approx(0.7 - 0.15)
    assert body["model"] == {"name": "codif", "version": "1"}
    assert answer.headers["x-request-id"] == body["request_id"]


def test_description_is_the_only_required_parameter(api: Api) -> None:
    assert api.client.get("/predict", params={"description": "coiffure"}).status_code == 200
    missing = api.client.get("/predict")
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["violations"] == [{"path": "description", "reason": "this field is required"}]


def test_ic_is_the_models_p1_minus_p2_whatever_nb_echos_max(api: Api) -> None:
    body = api.client.get("/predict", params={"description": "coiffure", "nb_echos_max": 1}).json()
    assert [c["code"] for c in body["candidates"]] == ["9602A"]
    assert body["ic"] == pytest.approx(0.7 - 0.15)


def test_prob_min_drops_the_unlikely_candidates(api: Api) -> None:
    body = api.client.get("/predict", params={"description": "coiffure", "prob_min": 0.05}).json()
    assert [c["probability"] for c in body["candidates"]] == pytest.approx([0.7, 0.15, 0.075])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type_form", "C"),
        ("type_form", "x"),
        ("type_form", ""),
        ("nature", "14"),
        ("nature", " 99 "),
        ("surface", "4"),
        ("event", "01P"),
        ("event", "54p"),
        ("event", "01A"),
        ("cj", "5710"),
    ],
)
def test_valid_side_fields_are_accepted(api: Api, field: str, value: str) -> None:
    answer = api.client.get("/predict", params={"description": "boulangerie", field: value})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("type_form", "F", "must be one of A, B, C"),
        ("type_form", "CC", "must be one of"),
        ("nature", "1", "two digits"),
        ("nature", "1a", "two digits"),
        ("nature", "١٤", "two digits"),  # Arabic-Indic digits are not digits here
        ("surface", "0", "1 to 4"),
        ("surface", "5", "1 to 4"),
        ("surface", "120.0", "1 to 4"),
        ("event", "01X", "two digits then A, P, M or F"),
        ("event", "1P", "two digits then"),
        ("cj", "571", "four digits"),
        ("nb_echos_max", "0", "greater than or equal to 1"),
        ("nb_echos_max", "21", "less than or equal to 20"),
        ("prob_min", "1.5", "less than or equal to 1"),
        ("prob_min", "nan", "finite"),
    ],
)
def test_invalid_side_fields_are_named_in_a_422(api: Api, field: str, value: str, words: str) -> None:
    answer = api.client.get("/predict", params={"description": "boulangerie", field: value})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["status"] == 422
    assert field in problem["detail"]
    [violation] = problem["violations"]
    assert violation["path"] == field
    assert words in violation["reason"]


def test_every_invalid_field_is_reported_at_once(api: Api) -> None:
    answer = api.client.get(
        "/predict", params={"description": "x", "type_form": "Q", "nature": "1", "surface": "9", "event": "P"}
    )
    assert {v["path"] for v in answer.json()["violations"]} == {"type_form", "nature", "surface", "event"}


@pytest.mark.parametrize("description", ["", "   ", "\t\n"])
def test_an_empty_description_is_refused(api: Api, description: str) -> None:
    answer = api.client.get("/predict", params={"description": description})
    assert answer.status_code == 422
    assert answer.json()["violations"] == [
        {"path": "description", "reason": "the description is empty: send the activity description to code"}
    ]


def test_a_description_over_the_limit_is_refused_not_cut(api: Api) -> None:
    assert api.client.get("/predict", params={"description": "a" * MAX_DESCRIPTION_CHARS}).status_code == 200
    answer = api.client.get("/predict", params={"description": "a" * (MAX_DESCRIPTION_CHARS + 1)})
    assert answer.status_code == 422
    reason = answer.json()["violations"][0]["reason"]
    assert f"{MAX_DESCRIPTION_CHARS + 1} characters" in reason
    assert "refused, not cut" in reason


def test_prob_min_above_the_best_probability_is_answered_with_a_clear_message(api: Api) -> None:
    answer = api.client.get("/predict", params={"description": "vague activity", "prob_min": 0.5})
    assert answer.status_code == 200
    body = answer.json()
    assert body["candidates"] == []
    assert body["message"] == "no candidate reaches prob_min=0.5: the best probability is 0.1500"
    assert body["ic"] == pytest.approx(0.075)
    assert "message" not in api.client.get("/predict", params={"description": "vague activity"}).json()
    assert _lines(api)[0]["candidates"] == []  # answered, so logged


def test_batch_answers_in_order(api: Api) -> None:
    forms = [{"description": "coiffure"}, {"description": "logiciel", "surface": 2, "nature": "14"}]
    answer = api.client.post("/predict", params={"nb_echos_max": 2}, json={"forms": forms})
    assert answer.status_code == 200
    body = answer.json()
    assert [[c["code"] for c in p["candidates"]] for p in body["predictions"]] == [
        ["9602A", "1071C"],
        ["6201Z", "1071C"],
    ]
    assert body["model"]["version"] == "1"


def test_batch_errors_name_the_form_index_and_field(api: Api) -> None:
    forms = [{"description": "coiffure"}, {"description": " "}, {"description": "pain", "event": "01Z"}]
    answer = api.client.post("/predict", json={"forms": forms})
    assert answer.status_code == 422
    paths = [v["path"] for v in answer.json()["violations"]]
    assert paths == ["forms[1].description", "forms[2].event"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"forms": []}, "forms"),
        ({}, "forms"),
        ({"forms": [{"type_form": "C"}]}, "forms[0].description"),
        ({"forms": [{"description": "pain", "colour": "blue"}]}, "forms[0].colour"),
        ({"forms": [{"description": 12}]}, "forms[0].description"),
    ],
)
def test_batch_shape_errors_are_422(api: Api, body: dict[str, Any], path: str) -> None:
    answer = api.client.post("/predict", json=body)
    assert answer.status_code == 422
    assert path in [v["path"] for v in answer.json()["violations"]]


def test_invalid_json_is_a_422(api: Api) -> None:
    answer = api.client.post("/predict", content=b'{"forms": [', headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert "not valid JSON" in answer.json()["violations"][0]["reason"]


def test_batch_size_limit(api: Api) -> None:
    ok = api.client.post("/predict", json={"forms": [{"description": "pain"}] * MAX_BATCH_FORMS})
    assert ok.status_code == 200
    assert len(ok.json()["predictions"]) == MAX_BATCH_FORMS
    too_many = api.client.post("/predict", json={"forms": [{"description": "pain"}] * (MAX_BATCH_FORMS + 1)})
    assert too_many.status_code == 422
    assert str(MAX_BATCH_FORMS) in too_many.json()["violations"][0]["reason"]


def test_in_a_batch_a_form_under_prob_min_gets_no_candidate_and_a_message(api: Api) -> None:
    forms = [{"description": "pain"}, {"description": "vague"}, {"description": "vague too"}]
    answer = api.client.post("/predict", params={"prob_min": 0.3}, json={"forms": forms})
    assert answer.status_code == 200
    first, second, third = answer.json()["predictions"]
    assert [c["code"] for c in first["candidates"]] == ["1071C"]
    assert "message" not in first
    assert second["candidates"] == [] == third["candidates"]
    assert second["message"] == "no candidate reaches prob_min=0.3: the best probability is 0.1500"
    assert second["ic"] == pytest.approx(0.15 - 0.075)
    lines = _lines(api)
    assert [len(line["candidates"]) for line in lines] == [1, 0, 0]  # answered, so logged


def test_the_model_is_asked_for_two_candidates_and_no_threshold(api: Api) -> None:
    api.client.get("/predict", params={"description": "pain", "nb_echos_max": 1, "prob_min": 0.3})
    coder = api.holder.current.coder
    assert isinstance(coder, FakeCoder)
    assert coder.calls[-1] == (1, 2, 0.0)


def test_one_business_log_line_per_prediction(api: Api) -> None:
    api.client.get(
        "/predict",
        params={"description": " Boulangerie ", "type_form": "c", "event": "01p", "nb_echos_max": 2},
        headers={"X-Request-ID": "req-42"},
    )
    api.client.post("/predict", json={"forms": [{"description": "coiffure", "surface": 1}, {"description": "pain"}]})
    lines = _lines(api)
    assert len(lines) == 3
    first = lines[0]
    assert first["request_id"] == "req-42"
    assert first["inputs"] == {
        "description": "Boulangerie",
        "type_form": "C",
        "nature": None,
        "surface": None,
        "event": "01P",
        "cj": None,
    }
    assert [c["code"] for c in first["candidates"]] == ["1071C", "9602A"]
    assert first["ic"] == pytest.approx(0.55)
    assert (first["model_name"], first["model_version"], first["nb_echos_max"]) == ("codif", "1", 2)
    assert first["latency_ms"] >= 0
    assert first["timestamp"].endswith("+00:00")
    assert [(line["index"], line["batch_size"]) for line in lines[1:]] == [(0, 2), (1, 2)]
    assert lines[1]["request_id"] == lines[2]["request_id"] != "req-42"
    assert lines[1]["inputs"]["surface"] == "1"


def test_a_strange_request_id_is_replaced(api: Api) -> None:
    answer = api.client.get("/predict", params={"description": "pain"}, headers={"X-Request-ID": "a b\x01"})
    assert answer.headers["x-request-id"] != "a b\x01"
    assert answer.json()["request_id"] == answer.headers["x-request-id"]


def test_health_says_which_version_is_loaded(api: Api) -> None:
    health = api.client.get("/health").json()
    assert health["status"] == "ok"
    assert health["model"]["version"] == "1"
    assert health["model"]["uri"] == "models:/codif@champion"
    assert health["reload"]["last_failure"] is None
    assert health["business_logs"]["destination"] is None


def test_admin_reload_swaps_in_the_new_version(tmp_path: Path) -> None:
    source = FakeSource({"1": FakeCoder(), "2": FakeCoder(tag=" (v2)")})
    api = make_api(tmp_path, source=source)
    with api.client:
        source.alias = "2"
        answer = api.client.post("/admin/reload", params={"wait": 5})
        assert answer.status_code == 200
        assert answer.json()["model"]["version"] == "2"
        body = api.client.get("/predict", params={"description": "pain"}).json()
        assert body["model"]["version"] == "2"
        assert body["candidates"][0]["label"].endswith("(v2)")
        assert source.released == ["1"]


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(tmp_path: Path) -> None:
    source = FakeSource({"1": FakeCoder(), "2": RuntimeError("corrupt artifact")})
    api = make_api(tmp_path, source=source)
    with api.client:
        source.alias = "2"
        state = api.client.post("/admin/reload", params={"wait": 5}).json()
        assert state["model"]["version"] == "1"
        assert state["reload"]["last_failure"]["version"] == "2"
        assert "corrupt artifact" in state["reload"]["last_failure"]["error"]
        health = api.client.get("/health").json()
        assert health["status"] == "degraded"
        assert api.client.get("/predict", params={"description": "pain"}).json()["model"]["version"] == "1"


def test_reload_without_waiting_is_accepted(api: Api) -> None:
    assert api.client.post("/admin/reload").status_code == 202


def _auth_api(tmp_path: Path, **auth: Any) -> Api:
    return make_api(tmp_path, ServeSettings(poll_seconds=0, logs_dir=tmp_path / "logs", **auth))


def test_bearer_token(tmp_path: Path) -> None:
    api = _auth_api(tmp_path, auth_token="s3cret")
    with api.client:
        refused = api.client.get("/predict", params={"description": "pain"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="codif"'
        assert "Bearer <token>" in refused.json()["detail"]
        wrong = api.client.get("/predict", params={"description": "pain"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert api.client.get("/predict", params={"description": "pain"}, headers=good).status_code == 200
        assert api.client.post("/predict", json={"forms": [{"description": "pain"}]}).status_code == 401
        assert api.client.post("/admin/reload").status_code == 401
        assert api.client.post("/admin/reload", headers=good).status_code == 202
        assert api.client.get("/health").status_code == 200
        schemes = api.client.get("/openapi.json").json()["components"]["securitySchemes"]
        assert schemes == {"bearer": {"type": "http", "scheme": "bearer"}}


def test_http_basic(tmp_path: Path) -> None:
    api = _auth_api(tmp_path, auth_username="insee", auth_password="pw")
    with api.client:
        assert api.client.get("/predict", params={"description": "pain"}).status_code == 401
        assert api.client.get("/predict", params={"description": "pain"}, auth=("insee", "bad")).status_code == 401
        garbage = {"Authorization": "Basic !!!"}
        assert api.client.get("/predict", params={"description": "pain"}, headers=garbage).status_code == 401
        assert api.client.get("/predict", params={"description": "pain"}, auth=("insee", "pw")).status_code == 200
        token = base64.b64encode(b"insee:pw").decode()
        answer = api.client.post(
            "/predict", json={"forms": [{"description": "pain"}]}, headers={"Authorization": f"Basic {token}"}
        )
        assert answer.status_code == 200


def test_basic_auth_needs_both_user_and_password() -> None:
    with pytest.raises(ValueError, match="auth_username and auth_password go together"):
        ServeSettings(auth_username="insee")


def test_cors_is_off_by_default_and_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: Api) -> None:
    preflight = {"Origin": "https://dashboard.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in api.client.options("/predict", headers=preflight).headers
    monkeypatch.setenv("CODIF_SERVE_CORS_ORIGINS", "https://dashboard.example, https://other.example")
    settings = ServeSettings(poll_seconds=0, logs_dir=tmp_path / "cors-logs")
    assert settings.cors_origins == ["https://dashboard.example", "https://other.example"]
    cors = make_api(tmp_path, settings)
    with cors.client:
        answer = cors.client.options("/predict", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://dashboard.example"
        got = cors.client.get("/predict", params={"description": "pain"}, headers={"Origin": "https://other.example"})
        assert got.headers["access-control-allow-origin"] == "https://other.example"
        assert "x-request-id" in got.headers["access-control-expose-headers"].lower()


def test_openapi_documents_the_parameters_and_the_limits(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    get = schema["paths"]["/predict"]["get"]
    parameters = {p["name"]: p for p in get["parameters"]}
    assert set(parameters) == {
        "description",
        "type_form",
        "nature",
        "surface",
        "event",
        "cj",
        "nb_echos_max",
        "prob_min",
    }
    assert [name for name, p in parameters.items() if p["required"]] == ["description"]
    assert parameters["description"]["schema"]["maxLength"] == MAX_DESCRIPTION_CHARS
    assert parameters["type_form"]["schema"]["type"] == "string"
    post = schema["paths"]["/predict"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["forms"]["maxItems"] == MAX_BATCH_FORMS
    assert {"200", "422"} <= set(post["responses"])
    assert "securitySchemes" not in schema.get("components", {})


def test_source_with_a_model_failing_at_start_raises(tmp_path: Path) -> None:
    from codif.serve.model_store import ModelLoadError

    with pytest.raises(ModelLoadError, match="cannot load version 1"):
        make_api(tmp_path, source=FakeSource({"1": OSError("no such file")}))


@pytest.mark.parametrize("description", ["1234", "!!!", "12 - 34"])
def test_a_description_without_letters_is_refused(api: Api, description: str) -> None:
    answer = api.client.get("/predict", params={"description": description})
    assert answer.status_code == 422
    assert answer.json()["violations"][0]["reason"].startswith("the description has no letter")


class _RefusingCoder(FakeCoder):
    def predict_forms(self, forms: Any, k: int = 5, prob_min: float = 0.01) -> Any:
        from sardonyx.errors import BadRequest, Violation

        raise BadRequest("1 form(s) have no usable description", violations=[Violation("forms[0].description", "no")])


def test_input_the_model_refuses_is_a_422_naming_the_field(tmp_path: Path) -> None:
    api = make_api(tmp_path, source=FakeSource({"1": _RefusingCoder()}))
    with api.client:
        single = api.client.get("/predict", params={"description": "pain"})
        assert single.status_code == 422
        assert single.json()["violations"] == [{"path": "description", "reason": "no"}]
        batch = api.client.post("/predict", json={"forms": [{"description": "pain"}, {"description": "pain"}]})
        assert batch.json()["violations"] == [{"path": "forms[0].description", "reason": "no"}]
