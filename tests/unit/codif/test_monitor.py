"""codif monitor on business logs written by the API's own writer: figures computed by hand, drift statistics,
windows, bad input, the CLI and its alerts."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from codif.errors import CodifDataError, MissingDataError
from codif.forms import Candidate, Form, Prediction
from codif.monitor import Window, build_report, connect, default_windows, distribution_drift
from codif.nomenclature import Nomenclature
from codif.serve.business_log import BusinessLog
from tests.codif_cli import run_cli

# (day, description, top-1 code, IC, how many)
Record = tuple[str, str, str, float, int]
REFERENCE: list[Record] = [
    ("2026-11-02", "Boulangerie artisanale", "1071C", 0.9, 3),
    ("2026-11-03", "vente en ligne de vêtements", "4791A", 0.5, 1),
]
CURRENT: list[Record] = [
    ("2026-11-09", "Boulangerie artisanale", "1071C", 0.95, 1),
    ("2026-11-10", "vente en ligne de vêtements", "4791A", 0.85, 2),
    ("2026-11-10", "livraison de repas à vélo", "4791B", 0.1, 1),
]


def write_logs(folder: Path, records: list[Record], version: str = "3") -> None:
    """Business log files as ``codif serve`` writes them (its writer, clocked to each record's day)."""
    now = [0.0]
    log = BusinessLog(folder, None, clock=lambda: now[0])
    log.start()
    for number, (day, description, code, ic, count) in enumerate(records):
        now[0] = datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC).timestamp()
        prediction = Prediction((Candidate(code, "label", 0.5 + ic / 2), Candidate("1071D", "other", 0.1)), ic)
        log.record(
            request_id=f"r{number}",
            model_name="codif",
            model_version=version,
            nb_echos_max=2,
            prob_min=0.01,
            forms=[Form(description, type_form="M")] * count,
            predictions=[prediction] * count,
            latency_ms=2.0 + number,
        )
    log.stop()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    write_logs(folder, REFERENCE + CURRENT)
    return folder


def test_a_window_reported_from_the_business_logs(logs: Path, nomenclature: Nomenclature) -> None:
    connection = connect(str(logs), {})
    report = build_report(
        connection,
        nomenclature,
        source=str(logs),
        window=Window(date(2026, 11, 8), date(2026, 11, 14)),
        reference=Window(date(2026, 11, 1), date(2026, 11, 7)),
        level="section",
    )
    assert report.n == 4
    assert report.auto_rate == pytest.approx(3 / 4)  # 0.95, 0.85, 0.85 reach 0.8; 0.1 does not
    assert report.mean_ic == pytest.approx((0.95 + 0.85 * 2 + 0.1) / 4)
    assert report.model_versions == {"3": 4}
    daily = [(d["day"], d["n"], d["auto_rate"]) for d in report.daily]
    assert daily == [("2026-11-09", 1, 1.0), ("2026-11-10", 3, 2 / 3)]
    assert [b["n"] for b in report.ic_histogram] == [0, 1, 0, 0, 0, 0, 0, 0, 2, 1]
    assert [(c["code"], c["n"], c["auto_rate"]) for c in report.codes] == [("G", 3, 2 / 3), ("C", 1, 1.0)]
    assert report.codes[0]["label"] == nomenclature.label("G")
    assert report.text["top_descriptions"][0] == {"description": "vente en ligne de vêtements", "n": 2}
    assert report.text["mean_words"] == pytest.approx((2 + 5 * 2 + 5) / 4)
    drift = report.drift
    assert drift is not None
    assert (drift.reference_n, drift.current_n) == (4, 4)
    # sections: reference C 3, G 1; current C 1, G 3 -> BC = 2 sqrt(3/16), chi-square of [[3, 1], [1, 3]] = 2
    coefficient = 2 * math.sqrt(3 / 16)
    assert drift.hellinger == pytest.approx(math.sqrt(1 - coefficient))
    assert drift.bhattacharyya == pytest.approx(-math.log(coefficient))
    assert drift.chi2 == pytest.approx(2.0)
    assert drift.chi2_dof == 1
    assert drift.auto_rate_change == pytest.approx(3 / 4 - 3 / 4)
    assert {m["code"] for m in drift.biggest_moves} == {"C", "G"}
    assert report.alerts == []


def test_subclass_level_and_default_windows(logs: Path, nomenclature: Nomenclature) -> None:
    report = build_report(connect(str(logs), {}), nomenclature, source=str(logs), level="subclass")
    assert report.window == "2026-11-04:2026-11-10"  # the 7 days ending on the last day with data
    assert report.drift is not None
    assert report.drift.reference == "2026-10-28:2026-11-03"
    assert [c["code"] for c in report.codes] == ["4791A", "1071C", "4791B"]  # by count, then code
    assert default_windows(date(2026, 11, 10), 2) == (
        Window(date(2026, 11, 7), date(2026, 11, 8)),
        Window(date(2026, 11, 9), date(2026, 11, 10)),
    )


def test_drift_statistics_on_hand_computed_cases() -> None:
    same = distribution_drift({"A": 10, "B": 30}, {"A": 1, "B": 3})
    assert same["hellinger"] == pytest.approx(0.0, abs=1e-7)
    assert same["kl_divergence"] == pytest.approx(0.0, abs=0.05)  # smoothing only
    assert same["chi2"] == pytest.approx(0.0)
    assert same["chi2_p_value"] == pytest.approx(1.0)
    disjoint = distribution_drift({"A": 5}, {"B": 5})
    assert disjoint["hellinger"] == pytest.approx(1.0)
    assert disjoint["bhattacharyya"] is None
    assert disjoint["psi"] > 2.0
    assert math.isfinite(disjoint["kl_divergence"])
    with pytest.raises(ValueError, match="both windows"):
        distribution_drift({}, {"A": 1})


def test_a_window_without_reference_data_has_no_drift_and_alerts_fire(logs: Path, nomenclature: Nomenclature) -> None:
    report = build_report(
        connect(str(logs), {}),
        nomenclature,
        source=str(logs),
        window=Window.parse("2026-11-02:2026-11-03"),
        min_auto_rate=0.9,
        max_hellinger=0.0,
    )
    assert report.drift is None
    assert report.drift_note == "no drift: the reference window 2026-10-31:2026-11-01 has no prediction"
    assert report.alerts == ["auto-coding rate 75.0% at IC >= 0.8 is under 90.0% in 2026-11-02:2026-11-03"]


def test_lines_that_are_not_records_are_skipped(logs: Path, nomenclature: Nomenclature) -> None:
    (logs / "junk.jsonl").write_text('not json\n{"timestamp": null}\n{"other": 1}\n', encoding="utf-8")
    report = build_report(connect(str(logs), {}), nomenclature, source=str(logs), window=Window.parse("2026-11-10"))
    assert report.n == 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-11-31", "day is out of range for month"),
        ("yesterday", "expected YYYY-MM-DD or FROM:TO"),
        ("2026-11-02:2026-11-01", "the first day is after the last"),
        ("2026-11-01:2026-11-02:2026-11-03", "expected YYYY-MM-DD or FROM:TO"),
    ],
)
def test_bad_windows_are_refused(text: str, reason: str) -> None:
    with pytest.raises(CodifDataError) as caught:
        Window.parse(text, option="--window")
    assert [(v.path, v.reason) for v in caught.value.violations] == [("--window", reason)]


def test_missing_or_empty_logs_and_empty_windows_are_clear_errors(
    logs: Path, tmp_path: Path, nomenclature: Nomenclature
) -> None:
    with pytest.raises(MissingDataError, match="not a folder"):
        connect(str(tmp_path / "nowhere"), {})
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingDataError, match=r"no business log file \(\*\.jsonl\)"):
        connect(str(tmp_path / "empty"), {})
    connection = connect(str(logs), {})
    with pytest.raises(CodifDataError, match=r"no prediction in 2025-01-01:2025-01-02 .* cover 2026-11-02 to 2026-11"):
        build_report(connection, nomenclature, source=str(logs), window=Window.parse("2025-01-01:2025-01-02"))
    with pytest.raises(CodifDataError, match=r"threshold must be within \[0, 1\]"):
        build_report(connection, nomenclature, source=str(logs), threshold=1.5)


def test_the_cli_prints_the_report_and_exits_3_on_alerts(
    logs: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["monitor", str(logs), "--data-dir", str(data_dir), "--window", "2026-11-08:2026-11-14"]
    assert run_cli([*common, "--json", "--level", "division"], monkeypatch) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 4
    assert report["drift"]["level"] == "division"
    assert run_cli([*common, "--max-hellinger", "0.1"], monkeypatch) == 3
    captured = capsys.readouterr()
    assert "auto-coding rate 75.0% at IC >= 0.8" in captured.out
    assert "Hellinger distance" in captured.out
    assert "ALERT: section drift: Hellinger distance 0.366" in captured.err
    assert run_cli([*common, "--level", "sector"], monkeypatch) == 1
    assert "unknown NAF level 'sector'" in capsys.readouterr().err
    monkeypatch.delenv("AWS_BUCKET_NAME", raising=False)
    monkeypatch.delenv("AWS_WORKING_DIRECTORY_PATH", raising=False)
    monkeypatch.delenv("CODIF_SERVE_LOGS_BUCKET", raising=False)
    assert run_cli(["monitor", "--data-dir", str(data_dir)], monkeypatch) == 1
    assert "where are the business logs?" in capsys.readouterr().err


def test_the_html_report_escapes_what_the_forms_say(tmp_path: Path, nomenclature: Nomenclature) -> None:
    from codif.monitor import render_html, write_html

    folder = tmp_path / "logs"
    write_logs(folder, [*REFERENCE, ("2026-11-09", "<script>alert('x')</script> & co", "1071C", 0.3, 2)])
    report = build_report(connect(str(folder), {}), nomenclature, source=str(folder), min_auto_rate=0.9)
    page = render_html(report)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in page
    assert "2026-11-03:2026-11-09" in page
    assert "<strong>Alert:</strong> auto-coding rate 0.0% at IC &gt;= 0.8 is under 90.0%" in page
    assert f"{nomenclature.label('C')}" in page
    written = write_html(report, str(tmp_path / "out" / "report.html"), {})
    assert Path(written).read_text(encoding="utf-8") == page
    with pytest.raises(CodifDataError, match=r"expected s3://bucket/key\.html"):
        write_html(report, "s3://bucket-only/", {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(CodifDataError, match="cannot write"):
        write_html(report, str(tmp_path / "file" / "report.html"), {})
