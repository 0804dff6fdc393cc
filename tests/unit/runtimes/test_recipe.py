"""The recipe format: validation with every violation, sandboxed rendering, the library-chart variables."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from sardonyx.errors import BadRequest
from sardonyx.runtimes.local import InvalidRecipe, library_env, parse_recipe
from sardonyx.runtimes.local.envvars import base_env, extra_env, s3_endpoint
from sardonyx.runtimes.local.recipe import Renderer, is_safe_relative_path

BUILTIN = Path(__file__).resolve().parents[3] / "catalogs" / "builtin"


def test_command_groups_render_conditionally_and_splice_lists() -> None:
    recipe = parse_recipe(
        {
            "command": [
                "prog",
                "--port={{ ports.http }}",
                {"when": "values.debug", "args": ["--debug", "--level={{ values.level }}"]},
                {"when": "not values.debug", "args": ["--quiet"]},
                {"each": "values.extra"},
            ],
            "ports": [{"name": "http"}],
        }
    )
    context = {"values": {"debug": True, "level": 3, "extra": ["a b", 1]}, "ports": {"http": 8080}}
    renderer = Renderer(context)
    assert renderer.command(recipe.command) == ["prog", "--port=8080", "--debug", "--level=3", "a b", "1"]
    renderer = Renderer({"values": {"debug": False, "extra": None}, "ports": {"http": 1}})
    assert renderer.command(recipe.command) == ["prog", "--port=1", "--quiet"]
    assert renderer.errors == []


def test_rendering_is_sandboxed_and_strict() -> None:
    renderer = Renderer({"values": {"a": "x"}})
    assert renderer.text("{{ values.a.__class__.__mro__ }}", "t") == ""
    assert renderer.text("{{ values.nope }}", "u") == ""
    assert renderer.string_list("values.a", "v") == []
    assert [v.path for v in renderer.errors] == ["t", "u", "v"]
    with pytest.raises(InvalidRecipe) as info:
        renderer.raise_errors("bad")
    assert len(info.value.violations) == 3


def test_every_violation_of_a_recipe_is_reported() -> None:
    with pytest.raises(InvalidRecipe) as info:
        parse_recipe(
            {
                "command": ["x", {"args": ["a"], "each": "b"}],
                "ports": [{"name": "http"}, {"name": "http"}, {"name": "not ok"}],
                "readiness": {"http": {"path": "health", "headers": {"Bad Header": "x"}}, "timeout_seconds": 0},
                "discovery": {"kind": "k", "env": {"A-B": "x"}},
                "environment": {"requirements": "jupyterlab"},
            },
            chart="c",
        )
    paths = [v.path for v in info.value.violations]
    assert "recipe.command[1]" in paths
    assert "recipe.ports[2].name" in paths
    assert "recipe.readiness.http.path" in paths
    assert "recipe.readiness.http.headers" in paths
    assert "recipe.readiness.timeout_seconds" in paths
    assert "recipe.discovery.env" in paths
    assert "recipe.environment.requirements" in paths


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("a.py", True),
        ("conf/x.json", True),
        ("../a", False),
        ("/etc/passwd", False),
        ("a/../../b", False),
        ("", False),
        (".", False),
    ],
)
def test_recipe_files_stay_inside_the_service_directory(name: str, safe: bool) -> None:
    assert is_safe_relative_path(name) is safe


def test_library_env_follows_the_onyxia_library_chart() -> None:
    assert s3_endpoint("minio.lab.sspcloud.fr") == ("minio.lab.sspcloud.fr", "https://minio.lab.sspcloud.fr")
    assert s3_endpoint("http://127.0.0.1:8333/") == ("127.0.0.1:8333", "http://127.0.0.1:8333")
    assert s3_endpoint("127.0.0.1", 8333) == ("127.0.0.1:8333", "http://127.0.0.1:8333")
    assert s3_endpoint("localhost:9000", 443) == ("localhost:9000", "http://localhost:9000")
    assert s3_endpoint("minio.example.org", 443) == ("minio.example.org", "https://minio.example.org")
    assert s3_endpoint("minio.example.org", 9000) == ("minio.example.org:9000", "https://minio.example.org:9000")
    env = library_env(
        {
            "s3": {"enabled": False, "accessKeyId": "x"},
            "vault": {
                "enabled": True,
                "url": "https://vault",
                "token": "t",
                "mount": "kv",
                "directory": "alice",
                "secret": "db",
            },
            "security": {"password": "pw"},
        }
    )
    assert env == {
        "PASSWORD": "pw",
        "VAULT_ADDR": "https://vault",
        "VAULT_TOKEN": "t",
        "VAULT_MOUNT": "kv",
        "VAULT_TOP_DIR": "alice",
        "VAULT_RELATIVE_PATH": "db",
    }
    env = library_env({"s3": {"accessKeyId": "k", "secretAccessKey": "s", "endpoint": "s3.example.org"}})
    assert env["AWS_ENDPOINT_URL"] == "https://s3.example.org" and env["AWS_DEFAULT_REGION"] == "us-east-1"
    with pytest.raises(BadRequest) as info:
        extra_env({"extraEnvVars": [{"name": "OK", "value": 1}, {"name": "x=y"}, "junk"]})
    assert [v.path for v in info.value.violations] == ["extraEnvVars[1].name", "extraEnvVars[2].name"]


def test_only_an_allow_list_of_the_platform_environment_passes() -> None:
    env = base_env({"HOME": "/h", "LC_ALL": "C", "AWS_ACCESS_KEY_ID": "leak", "SARDONYX_PORT": "1", "PATH": "/bin"})
    assert env == {"HOME": "/h", "LC_ALL": "C"}


@pytest.mark.parametrize("chart", sorted(p.parent.name for p in BUILTIN.glob("*/recipe.yaml")))
def test_builtin_recipes_are_valid(chart: str) -> None:
    parse_recipe(yaml.safe_load((BUILTIN / chart / "recipe.yaml").read_text()), chart=chart)


@pytest.mark.parametrize("chart", sorted(p.parent.name for p in BUILTIN.glob("*/recipe.yaml")))
def test_builtin_charts_render_with_their_default_values(chart: str, tmp_path: Path) -> None:
    from sardonyx.runtimes.base import ServiceSpec
    from sardonyx.runtimes.local import LocalRuntime
    from sardonyx.runtimes.progress import InMemoryStateStore

    values = yaml.safe_load((BUILTIN / chart / "values.yaml").read_text())
    if chart == "python-job":
        values["job"]["command"] = ["python", "-V"]
    recipe = parse_recipe(yaml.safe_load((BUILTIN / chart / "recipe.yaml").read_text()), chart=chart)
    spec = ServiceSpec(
        id=f"{chart}-1", project="user-a", owner="a", catalog_id="builtin", chart=chart, version="1.0.0", values=values
    )
    runtime = LocalRuntime(InMemoryStateStore(), tmp_path, envs_dir=tmp_path / "envs")
    launch = runtime._render(
        spec, recipe, tmp_path / "svc", {p.name: 40000 + n for n, p in enumerate(recipe.ports)}, tmp_path / "env"
    )
    assert launch.argv and all(isinstance(a, str) and a for a in launch.argv)
    assert launch.env["PATH"].startswith(str(tmp_path / "env" / "bin"))
    if not recipe.is_job:
        assert launch.url is not None and launch.url.startswith("http://127.0.0.1:40000")
    schema = json.loads((BUILTIN / chart / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(values, schema)
    meta = yaml.safe_load((BUILTIN / chart / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2" and meta["name"] == chart and meta["icon"].startswith(("https://", "data:image/"))
    assert (BUILTIN / chart / "templates" / "NOTES.txt").is_file()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Using CPython 3.11.7 interpreter at: /usr/bin/python3", ("Creating the environment with Python 3.11.7.", 10)),
        ("Resolved 87 packages in 1.02s", ("Resolved 87 packages.", 25)),
        ("Resolved 1 package in 114ms", ("Resolved 1 package.", 25)),
        ("Downloading pyarrow (40.1MiB)", ("Downloading pyarrow (40.1MiB).", 0)),
        ("Prepared 30 packages in 5.2s", ("Downloaded 30 packages.", 50)),
        ("Installed 87 packages in 300ms", ("Installed 87 packages.", 58)),
        ("warning: Failed to hardlink files", ("warning: Failed to hardlink files", 0)),
        (" + six==1.17.0", None),
        ("Activate with: source /x/bin/activate", None),
    ],
)
def test_uv_output_becomes_sentences_for_the_user(line: str, expected: tuple[str, int] | None) -> None:
    from sardonyx.runtimes.local.environments import describe_uv_line

    assert describe_uv_line(line) == expected
