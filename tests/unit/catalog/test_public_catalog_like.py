"""Charts shaped like those of Onyxia's databases and automation catalogs (which the fixtures lack): a
scheduler with a conditional PostgreSQL dependency and an IP allowlist, a database with ``$ref`` definitions,
a constant and a list of users, a batch job, a group-project select; loaded from a folder and from a packaged
repository with keyword and annotation filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sardonyx.catalog import CatalogConfig, CatalogService, LaunchContext, Override, parse_set_options
from sardonyx.catalog.packaging import package_chart, write_repository_index
from sardonyx.errors import InvalidValues
from tests.unit.catalog.conftest import write_chart

SCHEDULER: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "executor": {
            "type": "string",
            "enum": ["KubernetesExecutor", "CeleryExecutor"],
            "default": "KubernetesExecutor",
        },
        "allowlist": {
            "type": "object",
            "properties": {
                "enabled": {
                    "type": "boolean",
                    "default": False,
                    "x-onyxia": {"overwriteDefaultWith": "region.defaultIpProtection"},
                },
                "ip": {
                    "type": "string",
                    "default": "0.0.0.0/0",
                    "x-onyxia": {"overwriteDefaultWith": "{{user.ip}}/32"},
                    "hidden": {"value": False, "path": "enabled", "isPathRelative": True},
                },
            },
        },
        "webserver": {
            "type": "object",
            "properties": {
                "defaultUser": {
                    "type": "object",
                    "properties": {
                        "username": {
                            "type": "string",
                            "default": "admin",
                            "x-onyxia": {"overwriteDefaultWith": "user.idep"},
                        },
                        "email": {"type": "string", "default": "", "x-onyxia": {"overwriteDefaultWith": "user.email"}},
                        "password": {
                            "type": "string",
                            "render": "password",
                            "x-onyxia": {"overwriteDefaultWith": "{{project.password}}"},
                        },
                    },
                }
            },
        },
        "dags": {
            "type": "object",
            "properties": {
                "repository": {"type": "string", "default": "", "pattern": "^(https://.+)?$"},
                "schedule": {"type": "string", "default": "@daily", "listEnum": ["@hourly", "@daily", "@weekly"]},
            },
        },
        "postgresql": {
            "type": "object",
            "properties": {
                "enabled": {"type": "boolean", "default": True},
                "auth": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "x-onyxia": {"overwriteDefaultWith": "{{project.id}}"}},
                        "password": {"type": "string", "x-onyxia": {"overwriteDefaultWith": "{{project.password}}"}},
                    },
                },
            },
        },
        "global": {
            "type": "object",
            "properties": {"suspend": {"type": "boolean", "default": False, "x-onyxia": {"hidden": True}}},
        },
    },
}

DATABASE: dict[str, Any] = {
    "type": "object",
    "definitions": {
        "resources": {
            "type": "object",
            "properties": {
                "cpu": {
                    "type": "string",
                    "default": "250m",
                    "render": "slider",
                    "sliderMin": 50,
                    "sliderMax": 4000,
                    "sliderStep": 50,
                    "sliderUnit": "m",
                },
                "memory": {"type": "string", "default": "256Mi", "pattern": "^[0-9]+(Mi|Gi)$"},
            },
        }
    },
    "properties": {
        "engine": {"type": "string", "const": "postgres"},
        "version": {"type": "string", "default": "16", "enum": ["14", "15", "16"], "x-onyxia": {"readonly": True}},
        "resources": {"$ref": "#/definitions/resources", "title": "Resources"},
        "users": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "default": "app", "pattern": "^[a-z_]+$"},
                    "superuser": {"type": "boolean", "default": False},
                },
                "required": ["name"],
            },
        },
        "backup": {
            "type": "object",
            "properties": {
                "enabled": {"type": "boolean", "default": False},
                "bucket": {
                    "type": "string",
                    "default": "",
                    "x-onyxia": {"overwriteDefaultWith": "s3://{{s3.AWS_BUCKET_NAME}}/backups"},
                },
                "endpoint": {
                    "type": "string",
                    "default": "",
                    "x-onyxia": {"overwriteDefaultWith": "https://{{s3.AWS_S3_ENDPOINT}}"},
                },
            },
        },
    },
    "required": ["engine", "version"],
}

JOB: dict[str, Any] = {
    "type": "object",
    "properties": {
        "job": {
            "type": "object",
            "properties": {
                "script": {"type": "string", "default": "print('hello')", "render": "textArea"},
                "args": {"type": "array", "items": {"type": "string"}, "default": []},
                "parallelism": {"type": "integer", "default": 1, "minimum": 1, "maximum": 64},
                "group": {
                    "type": "string",
                    "default": "",
                    "listEnum": [""],
                    "x-onyxia": {
                        "overwriteDefaultWith": "user.decodedIdToken.groups[0]",
                        "overwriteListEnumWith": "user.decodedIdToken.groups",
                    },
                },
            },
        }
    },
}


@pytest.fixture
def catalog_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "automation"
    write_chart(
        folder / "scheduler",
        "scheduler",
        "1.4.0",
        schema=SCHEDULER,
        values={
            "executor": "KubernetesExecutor",
            "postgresql": {"enabled": True, "primary": {"persistence": {"size": "8Gi"}}},
        },
        chart_yaml={
            "keywords": ["Automation", "Workflow"],
            "annotations": {"category": "automation"},
            "dependencies": [
                {
                    "name": "postgresql",
                    "version": "16.7.11",
                    "repository": "https://charts.bitnami.com/bitnami",
                    "condition": "postgresql.enabled",
                },
                {
                    "name": "library-chart",
                    "version": "2.1.7",
                    "repository": "https://inseefrlab.github.io/helm-charts-interactive-services",
                },
            ],
        },
    )
    write_chart(
        folder / "scheduler-next",
        "scheduler",
        "1.5.0-beta.1",
        schema=SCHEDULER,
        values={},
        chart_yaml={"keywords": ["Automation"]},
    )
    write_chart(
        folder / "database",
        "database",
        "2.0.0",
        schema=DATABASE,
        values={"engine": "postgres"},
        chart_yaml={"keywords": ["Database"], "annotations": {"category": "databases"}},
    )
    write_chart(folder / "job", "job", "0.3.0", schema=JOB, values={}, chart_yaml={"keywords": ["Batch"]})
    write_chart(folder / "library-chart", "library-chart", "2.1.7", chart_yaml={"type": "library"})
    return folder


@pytest.fixture
def context() -> LaunchContext:
    return LaunchContext.from_mapping(
        {
            "user": {
                "idep": "bob",
                "email": "bob@example.org",
                "ip": "203.0.113.7",
                "decodedIdToken": {"groups": ["datascience", "ops"]},
            },
            "project": {"id": "projet-datascience", "password": "pw-team"},
            "region": {"defaultIpProtection": True},
            "s3": {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_S3_ENDPOINT": "minio.example.org"},
        },
        base=LaunchContext.local_default(login="bob"),
    )


def service_for(folder: Path, tmp_path: Path, **keys: Any) -> CatalogService:
    config = CatalogConfig.model_validate(
        {"id": "automation", "location": str(folder), "multipleServicesMode": "all", **keys}
    )
    return CatalogService([config], cache_dir=tmp_path / "cache")


def test_scheduler_values_and_form(catalog_folder: Path, tmp_path: Path, context: LaunchContext) -> None:
    service = service_for(catalog_folder, tmp_path)
    assert [c.name for c in service.charts("automation")] == ["database", "job", "scheduler"]
    assert [v.version for v in service.versions("automation", "scheduler")] == ["1.5.0-beta.1", "1.4.0"]
    chart = service.chart_version("automation", "scheduler")
    assert chart.version == "1.4.0"  # the default skips the pre-release
    values = service.compute_values(chart, context).values
    assert values["allowlist"] == {"enabled": True, "ip": "203.0.113.7/32"}
    assert values["webserver"]["defaultUser"] == {"username": "bob", "email": "bob@example.org", "password": "pw-team"}
    assert values["postgresql"] == {"enabled": True, "auth": {"username": "projet-datascience", "password": "pw-team"}}
    form = service.form(chart, context)
    assert list(form.dependencies) == ["postgresql"]
    assert form.field("dags.schedule").options == ["@hourly", "@daily", "@weekly"]
    assert [n.path_text for n in form.global_] == ["global.suspend"]
    disabled = service.form(chart, context, values={**values, "postgresql": {"enabled": False}})
    assert disabled.disabled_dependencies == ["postgresql"] and not disabled.dependencies


def test_scheduler_overrides_and_violations(catalog_folder: Path, tmp_path: Path, context: LaunchContext) -> None:
    service = service_for(catalog_folder, tmp_path)
    chart = service.chart_version("automation", "scheduler")
    computed = service.compute_values(
        chart, context, parse_set_options(["executor=CeleryExecutor", "dags.repository=https://git.example.org/dags"])
    )
    assert computed.values["executor"] == "CeleryExecutor"
    with pytest.raises(InvalidValues) as caught:
        service.compute_values(
            chart,
            context,
            parse_set_options(
                ["executor=LocalExecutor", "dags.repository=git@example.org:dags", "postgresql.enabled=no"]
            ),
        )
    reasons = {v.path: v.reason for v in caught.value.violations}
    assert reasons["executor"].startswith('"LocalExecutor" is not one of the options')
    assert "does not match the pattern ^(https://.+)?$" in reasons["dags.repository"]
    assert reasons["postgresql.enabled"] == "expected true or false, got 'no'"


def test_database_with_refs_const_and_user_list(catalog_folder: Path, tmp_path: Path, context: LaunchContext) -> None:
    service = service_for(catalog_folder, tmp_path)
    chart = service.chart_version("automation", "database")
    values = service.compute_values(chart, context).values
    assert values["engine"] == "postgres"
    assert values["resources"] == {"cpu": "250m", "memory": "256Mi"}
    assert values["users"] == [{"name": "app", "superuser": False}]
    # s3.AWS_BUCKET_NAME does not exist in the context: default; AWS_S3_ENDPOINT does
    assert values["backup"] == {"enabled": False, "bucket": "", "endpoint": "https://minio.example.org"}
    form = service.form(chart, context)
    assert form.field("engine").readonly and form.field("version").readonly
    assert form.field("resources").title == "Resources"
    assert form.field("resources.cpu").widget == "slider"
    users = form.field("users")
    assert users.widget == "array" and users.can_add and not users.can_remove
    assert users.children[0].kind == "group" and users.children[0].title == "users 0"
    assert form.uses_s3
    more = service.compute_values(
        chart,
        context,
        [Override.typed("users[1]", {"name": "reader"}), Override.from_text("users[1].superuser", "true")],
    )
    assert more.values["users"][1] == {"name": "reader", "superuser": True}
    with pytest.raises(InvalidValues) as caught:
        service.compute_values(
            chart,
            context,
            [
                Override.typed("users", []),
                Override.from_text("engine", "mysql"),
                Override.from_text("resources.memory", "lots"),
                Override.remove("version"),
            ],
        )
    reasons = {v.path: v.reason for v in caught.value.violations}
    assert set(reasons) == {"users", "engine", "resources.memory", "version"}
    assert reasons["version"] == "a value is required"
    assert reasons["engine"] == 'must be "postgres", got "mysql"'


def test_job_with_group_select(catalog_folder: Path, tmp_path: Path, context: LaunchContext) -> None:
    service = service_for(catalog_folder, tmp_path)
    chart = service.chart_version("automation", "job")
    computed = service.compute_values(
        chart, context, parse_set_options(["job.args=[--epochs, '10']", "job.parallelism=8"])
    )
    assert computed.values["job"] == {
        "script": "print('hello')",
        "args": ["--epochs", "10"],
        "parallelism": 8,
        "group": "datascience",
    }
    form = service.form(chart, context)
    assert form.field("job.group").options == ["datascience", "ops"]
    assert form.field("job.script").widget == "textArea"
    with pytest.raises(InvalidValues, match="1 invalid value"):
        service.compute_values(chart, context, parse_set_options(["job.parallelism=100"]))


def test_packaged_repository_with_keyword_and_annotation_filters(catalog_folder: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for child in sorted(catalog_folder.iterdir()):
        package_chart(child, repo)
    write_repository_index(repo)
    expectations: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["database", "job", "scheduler"]),
        ({"includeKeywords": ["Database", "Batch"]}, ["database", "job"]),
        ({"excludeKeywords": ["Batch"]}, ["database", "scheduler"]),
        ({"includeAnnotations": {"category": "databases"}}, ["database"]),
        ({"excludeAnnotations": {"category": "databases"}}, ["job", "scheduler"]),
        ({"excludedCharts": ["JOB"]}, ["database", "scheduler"]),
    ]
    for keys, names in expectations:
        service = service_for(repo, tmp_path, **keys)
        assert [c.name for c in service.charts("automation")] == names, keys
    # the newest scheduler (a pre-release without the annotation) decides for annotations
    service = service_for(repo, tmp_path, includeAnnotations={"category": "automation"})
    assert service.charts("automation") == []
    pruned = service_for(repo, tmp_path, multipleServicesMode="latest")
    assert [v.version for v in pruned.versions("automation", "scheduler")] == ["1.5.0-beta.1"]
    assert pruned.catalog("automation").default_version("scheduler").version == "1.5.0-beta.1"
