"""``sardonyx launch|services|logs|suspend|resume|delete|open|status`` read as a user reads them: sentences, the
progress of a launch, the outcome, and errors as one line (exit status 1), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli.conftest import Cli


def test_launch_shows_progress_then_url_and_password(cli: Cli) -> None:
    code, out, err = cli("launch", "demo", "--name", "My lab")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("Launched My lab (demo-") and lines[0].endswith(").")
    assert any(line.startswith("  ") and "requested" in line for line in lines[1:])  # progress, one line a step
    assert "My lab (demo-" in out and ") is running." in out
    assert "  URL:      http://127.0.0.1:" in out and "  Password: " in out
    assert "Traceback" not in err


def test_a_job_says_it_succeeded_or_failed_with_its_reason(cli: Cli) -> None:
    code, out, _ = cli("launch", "job")
    assert code == 0 and "The job job-" in out and " succeeded." in out and "is succeeded" not in out
    assert "  Its output: sardonyx logs job-" in out
    code, out, _ = cli("launch", "broken", "--name", "Broken one")
    assert code == 1
    assert "Launched Broken one (broken-" in out and "has failed" not in out
    assert "  Its log: sardonyx logs broken-" in out


def test_the_services_table_and_the_actions_read_as_sentences(cli: Cli) -> None:
    cli("launch", "demo", "--name", "nb")
    cli("launch", "broken")
    code, out, _ = cli("services")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "NAME", "CHART", "STATUS", "AGE", "URL", "/", "MESSAGE"]
    assert any("running" in row and "http://127.0.0.1:" in row for row in rows)
    assert any("failed" in row for row in rows)
    code, out, _ = cli("suspend", "nb")
    assert code == 0 and "nb (demo-" in out and ") is suspended: its files are kept; `sardonyx resume demo-" in out
    code, out, _ = cli("suspend", "nb")
    assert code == 0 and ") is suspended already." in out
    code, out, _ = cli("resume", "nb")
    assert code == 0 and out.startswith("Resuming nb (demo-") and ") is running." in out and "URL:" in out
    code, out, _ = cli("resume", "nb")
    assert code == 0 and ") is running already." in out
    code, out, _ = cli("open", "nb", "--no-browser")
    assert code == 0 and "URL:" in out
    code, out, _ = cli("delete", "nb")
    assert code == 0 and out.startswith("Deleted nb (demo-") and out.rstrip().endswith(").")


def test_json_output_and_logs(cli: Cli) -> None:
    cli("launch", "demo", "--name", "nb")
    code, out, _ = cli("services", "--json")
    (app,) = json.loads(out)["apps"]
    assert code == 0 and app["friendlyName"] == "nb"
    code, out, _ = cli("logs", "nb", "--tail", "5")
    assert code == 0


def test_errors_are_one_line_with_every_violation(cli: Cli) -> None:
    code, _, err = cli("launch", "nope")
    assert code == 1 and err.startswith("error: no chart 'nope' in any catalog") and "Traceback" not in err
    code, _, err = cli("launch", "demo", "--set", "nope=1")
    assert code == 1 and err.startswith("error: ") and "\n  - nope: " in err
    code, _, err = cli("logs", "nothing-here")
    assert code == 1 and err == "error: no service 'nothing-here' (see `sardonyx services`)\n"
    code, _, err = cli("delete", "nothing-here")
    assert code == 1 and "no service 'nothing-here'" in err
    cli("launch", "job", "--name", "a job")
    code, _, err = cli("open", "a job", "--no-browser")
    assert code == 1 and "error: a job (job-" in err and "is a job: it has no URL to open" in err
    code, _, err = cli("suspend", "a job")
    assert code == 1 and "A job cannot be suspended" in err


def test_status_says_what_runs(cli: Cli) -> None:
    code, out, _ = cli("status")
    assert code == 0
    assert out.startswith(f"Sardonyx 0.1.0 is up at {cli.url} (pid ")
    assert "  runtime: fake    user: alice    project: user-alice" in out
    assert "  services: none" in out
    code, out, _ = cli("status", "--json")
    assert code == 0 and json.loads(out)["running"] is True
    code, out, _ = cli("up")
    assert code == 0 and f"Sardonyx is already running at {cli.url}" in out


def test_status_of_a_platform_that_does_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.cli.conftest import Cli, make_platform

    platform, port = make_platform(tmp_path, "fake")
    monkeypatch.setenv("SARDONYX_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("SARDONYX_PORT", str(port))
    quiet = Cli(platform, "", capsys, monkeypatch)
    code, out, _ = quiet("status")
    assert code == 1 and out == "Sardonyx is not running (start it with `sardonyx up`).\n"
    code, out, _ = quiet("status", "--json")
    assert code == 1 and json.loads(out) == {"running": False}
    code, _, err = quiet("services")
    assert code == 1 and "Sardonyx is not running" in err and "sardonyx up" in err
    code, out, _ = quiet("down")
    assert code == 0 and out == "Sardonyx is not running.\n"


def test_help_and_settings_read_well(cli: Cli) -> None:
    code, out, _ = cli("--help")
    assert code == 0 and "launch" in out and "envs" in out
    code, out, _ = cli("launch", "--help")
    assert code == 0 and "the port setting on 127.0.0.1" in out
    code, out, _ = cli("settings")
    assert code == 0
    assert "data_dir  SARDONYX_DATA_DIR  (default: " in out and "\n    Directory holding all the platform's" in out
    assert "s3.supervise_interval_seconds  SARDONYX_S3__SUPERVISE_INTERVAL_SECONDS  (default: 2.0)" in out


def test_values_use_this_machines_s3_with_placeholder_keys(cli: Cli, tmp_path: Path) -> None:
    import yaml

    from sardonyx.settings import builtin_catalog_dir

    # the platform of this fixture serves only its `test` catalog: the built-in one is read offline, by path
    builtin = str(builtin_catalog_dir())
    code, out, err = cli("values", "jupyter-python", "--catalog", builtin)
    assert code == 0, err
    values = yaml.safe_load(out)
    assert values["s3"]["enabled"] is True and values["s3"]["accessKeyId"] == "<AWS_ACCESS_KEY_ID>"
    assert values["s3"]["endpoint"] == "http://127.0.0.1:8430" and values["s3"]["bucket"] == "user-alice"
    assert values["vault"]["enabled"] is False  # this machine has no Vault
    context = tmp_path / "context.yaml"
    context.write_text("s3: null\n")
    code, out, _ = cli("values", "jupyter-python", "--catalog", builtin, "--context", str(context))
    assert code == 0 and yaml.safe_load(out)["s3"]["enabled"] is False


def test_dry_run_and_show_command_mask_secrets_unless_revealed(cli: Cli) -> None:
    code, out, err = cli("launch", "demo", "--dry-run")
    assert code == 0, out + err
    assert "password: '********'" in out
    code, revealed, _ = cli("launch", "demo", "--dry-run", "--reveal")
    assert code == 0 and "password: '********'" not in revealed and "password: " in revealed
    code, out, err = cli("launch", "demo", "--show-command", "--no-wait")
    assert code == 0, out + err
    assert "SK-user-alice" not in err and "********" in err and "helm install demo-" in err
    assert 'curl -X PUT -H "Authorization: Bearer $(cat ' in err and "api-token)" in err  # never the token itself


def test_catalog_commands_and_values_ask_the_running_platform(cli: Cli) -> None:
    # this shell's settings know only the built-in catalog; the platform serves its own `test` catalog
    code, out, err = cli("catalog", "list")
    assert code == 0, out + err
    assert out.startswith("test — test") and "demo" in out and "builtin" not in out
    code, out, err = cli("values", "demo", "--set", "replicas=3")
    assert code == 0, out + err
    assert "replicas: 3" in out and "password: '********'" in out and "accessKeyId: <AWS_ACCESS_KEY_ID>" in out
    code, out, err = cli("catalog", "show", "demo")
    assert code == 0, out + err
    assert "catalog test" in out and "replicas" in out
    code, _, err = cli("values", "jupyter-python")
    assert code == 1 and "no chart 'jupyter-python' in any catalog" in err


def test_the_cli_reads_the_token_itself_and_says_where_it_looked(cli: Cli) -> None:
    from sardonyx.auth import api_token_path

    assert cli("services")[0] == 0  # the token of SARDONYX_DATA_DIR, read by PlatformClient on its own
    token_file = api_token_path(cli.platform.settings.data_dir)
    token_file.unlink()
    code, _, err = cli("services")
    assert code == 1 and f"no API token in {token_file}" in " ".join(err.split()) and "Traceback" not in err
