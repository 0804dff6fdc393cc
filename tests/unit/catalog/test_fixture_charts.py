"""Conformance: every real Onyxia chart of the fixtures loads, and its computed values validate against its
resolved schema, with the outcomes Onyxia's launcher gives."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sardonyx.catalog import LaunchContext, ResolvedSchema, SchemaRegistry, compute_values, resolve_schema
from sardonyx.catalog.compute import ComputedValues
from sardonyx.catalog.model import ChartVersion
from tests.unit.catalog.conftest import FIXTURE_CHARTS

Reader = Callable[[str], ChartVersion]


def _values(read: Reader, registry: SchemaRegistry, name: str, context: LaunchContext) -> ComputedValues:
    chart = read(name)
    assert chart.schema is not None
    schema = ResolvedSchema.build(resolve_schema(chart.schema, registry), source=name)
    return compute_values(chart, schema, context)


@pytest.mark.parametrize("name", FIXTURE_CHARTS)
def test_fixture_chart_values_validate(
    name: str, fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    chart = fixture_chart(name)
    assert chart.problems == ()
    assert chart.values_yaml.strip()
    computed = _values(fixture_chart, registry, name, context)
    # compute_values raises InvalidValues otherwise; check the tree is a real, non-trivial values tree
    assert len(computed.values) >= 4
    assert computed.values == computed.defaults


def test_jupyter_ingress_hostname_from_context(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    values = _values(fixture_chart, registry, "jupyter-python", context).values
    # {{project.id}}-{{k8s.randomSubdomain}}-0.{{k8s.domain}}
    assert values["ingress"]["hostname"] == "user-bob-626146-0.lab.example.org"
    assert values["ingress"]["userHostname"] == "user-bob-626146-user.lab.example.org"
    assert values["ingress"]["ingressClassName"] == "nginx"
    assert values["ingress"]["enabled"] is True
    assert values["route"]["enabled"] is False


def test_jupyter_password_is_the_one_time_password(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    values = _values(fixture_chart, registry, "jupyter-python", context).values
    assert values["security"]["password"] == "onetimepw"


def test_jupyter_s3_block_from_s3_context(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    s3 = _values(fixture_chart, registry, "jupyter-python", context).values["s3"]
    assert s3["accessKeyId"] == "AKIABOB"
    assert s3["secretAccessKey"] == "secret-bob"
    assert s3["sessionToken"] == "session-bob"
    assert s3["endpoint"] == "minio.lab.example.org"
    assert s3["defaultRegion"] == "us-east-1"
    assert s3["pathStyleAccess"] is True
    # {{s3.workingDirectoryPath}} names a key the context no longer has: the default "" is used
    assert s3["workingDirectoryPath"] == ""


def test_vault_and_git_blocks(fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext) -> None:
    values = _values(fixture_chart, registry, "vscode-python", context).values
    assert values["vault"]["token"] == "hvs.bob"
    assert values["vault"]["mount"] == "onyxia-kv"
    assert values["vault"]["directory"] == "bob"
    assert values["git"]["name"] == "Bob Martin"
    assert values["git"]["token"] == "ghp_bob"
    # git.credentials_cache_duration is the number 0: the string field gets Onyxia's approximation "0"
    assert values["git"]["cache"] == "0"
    # {{git.project}} does not exist any more: the field keeps its default
    assert values["git"]["repository"] == ""


def test_missing_context_key_falls_back_to_default(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    values = _values(fixture_chart, registry, "mlflow", context).values
    # "s3://{{s3.AWS_BUCKET_NAME}}/mlflow-artifacts": unresolvable placeholder -> default
    assert values["service"]["directory"] == "/tmp/mlflow/artifacts/"
    assert values["security"]["password"] == "projectpw"
    assert values["security"]["username"] == "user-bob"
    assert values["postgresql"]["auth"]["username"] == "user-bob"
    assert values["ingress"]["hostname"] == "user-bob-mlflow.lab.example.org"


def test_region_keys_unset_fall_back_to_admin_schema_defaults(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    values = _values(fixture_chart, registry, "jupyter-python", context).values
    # resources comes from ide/resources.json (overwriteSchemaWith); region.resources.* are unset
    assert values["resources"] == {
        "requests": {"cpu": "100m", "memory": "2Gi"},
        "limits": {"cpu": "30000m", "memory": "50Gi"},
    }
    assert values["startupProbe"]["failureThreshold"] == 60
    assert values["tolerations"] == []
    assert values["nodeSelector"] == {}


def test_region_context_values_are_used_when_set(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    context = LaunchContext.from_mapping(
        {"region": {"nodeSelector": {"disk": "ssd"}, "defaultNetworkPolicy": True}}, base=context
    )
    values = _values(fixture_chart, registry, "jupyter-python", context).values
    assert values["nodeSelector"] == {"disk": "ssd"}
    # the chart's networkPolicy.enabled reads region.defaultNetworkPolicy, but the admin schema
    # network-policy.json replaces the whole node (overwriteSchemaWith) and has no expression
    assert values["security"]["networkPolicy"]["enabled"] is False


def test_user_preferences_from_user_context(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    context = LaunchContext.from_mapping({"user": {"lang": "fr", "darkMode": True}}, base=context)
    values = _values(fixture_chart, registry, "rstudio", context).values
    assert values["userPreferences"]["language"] == "fr"
    assert values["userPreferences"]["darkMode"] is True


def test_postgresql_database_chart(fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext) -> None:
    values = _values(fixture_chart, registry, "postgresql", context).values
    assert values["postgresql"]["image"]["repository"] == "bitnamilegacy/postgresql"
    assert values["global"]["security"]["allowInsecureImages"] is True
