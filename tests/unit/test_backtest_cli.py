"""`fraudlake backtest` from files, as a user without a platform runs it: simulate, then tune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudlake import cli
from fraudlake.rules import ruleset


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    files = {
        "--out": "payments",
        "--customers-out": "customers",
        "--truth-out": "truth",
        "--chargebacks-out": "chargebacks",
    }
    argv = ["simulate", "--seed", "11", "--events", "8000", "--no-kafka", "--no-postgres", "--no-truth-topic"]
    for option, name in files.items():
        argv += [option, str(folder / f"{name}.parquet")]
    assert cli.main(argv) == 0
    return folder


def _inputs(history: Path, *labels: str) -> list[str]:
    argv = [
        "backtest",
        "--input",
        str(history / "payments.parquet"),
        "--profiles",
        str(history / "customers.parquet"),
    ]
    return argv + [f for label in labels for f in (f"--{label}", str(history / f"{label}.parquet"))]


def test_tune_writes_a_deployable_candidate_its_report_and_metrics(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [
        *_inputs(history, "truth"),
        "--tune",
        "--budget",
        "1%",
        "--out",
        str(out),
        "--version",
        "v1-tuned-test",
    ]
    assert cli.main(argv) == 0
    candidate = ruleset.load(out / "rules.yaml")
    assert candidate.version == "v1-tuned-test" and list(candidate.rules) == list(ruleset.load().rules)
    result = json.loads((out / "metrics.json").read_text())
    holdout = result["tuning"]["holdout"]
    assert holdout["live"]["version"] == "v1" and holdout["candidate"]["version"] == "v1-tuned-test"
    assert holdout["from"] > result["tuning"]["train"]["to"], (
        "the holdout period comes after the training period"
    )
    assert result["labels"] == "simulator truth (simulated traffic only)"
    report = (out / "report.md").read_text()
    assert "Candidate v1-tuned-test on the holdout period" in report
    assert f"./fraudlake rules deploy {out / 'rules.yaml'} --wait" in report


def test_chargeback_labels_keep_open_windows_out_of_the_rates(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*_inputs(history, "chargebacks"), "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["tested"]["overall"]
    # 28 days of history, a 90-day window: no payment without a chargeback is known to be legitimate
    assert overall["legit"] == 0 and overall["pending"] == overall["payments"] - overall["frauds"] > 0
    assert overall["recall"] is not None and overall["legit_alerted"] is None


def _exit_code(argv: list[str]) -> int:
    """cli.main's return code, or argparse's exit code for an argument it refused."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (["--tune"], "--tune needs --budget"),
        (["--budget", "lots"], "budget: expected alerts per day"),
        (["--labels", "truth"], "--labels truth needs --truth FILE"),
        (["--rules", "/nonexistent.yaml"], "argument --rules: /nonexistent.yaml does not exist"),
        (["--from", "2026-02-30"], "argument --from: '2026-02-30' is not an ISO date"),
        (["--chargeback-window-days", "-3"], "argument --chargeback-window-days: '-3' is not a whole"),
        (["--truth", "/no/truth.parquet"], "argument --truth: /no/truth.parquet does not exist"),
    ],
)
def test_bad_arguments_stop_with_a_message(
    history: Path, extra: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _inputs(history) + (
        ["--chargebacks", str(history / "chargebacks.parquet")] if "--labels" not in extra else []
    )
    assert _exit_code(argv + extra) == 2
    assert error in capsys.readouterr().err


def test_a_candidate_runs_only_as_a_person_approved_it(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert cli.main([*_inputs(history, "truth"), "--tune", "--budget", "1%", "--out", str(out)]) == 0
    candidate = out / "rules.yaml"
    capsys.readouterr()
    assert cli.main(["job", "start", "--rules", str(candidate)]) == 2
    assert "nobody approved them" in capsys.readouterr().err, "job start refuses it before any service"

    assert cli.main(["rules", "approve", str(candidate), "--by", "Ana Analyst"]) == 0
    approved = ruleset.load(candidate)
    ruleset.require_approval(approved, str(candidate))
    assert approved.approval is not None and approved.approval.approved_by == "Ana Analyst"
    assert cli.main(["rules", "approve", str(candidate), "--by", "Someone Else"]) == 2
    assert "already approved by Ana Analyst" in capsys.readouterr().err
    assert ruleset.load(candidate).approval == approved.approval, "the first approval stands"

    edited = candidate.read_text().replace(
        f"threshold: {approved.alert_threshold}\n", f"threshold: {approved.alert_threshold + 1}\n"
    )
    assert edited != candidate.read_text()
    candidate.write_text(edited)
    with pytest.raises(
        ruleset.RulesError, match=r"approval\.rules_sha256: .* changed after Ana Analyst approved"
    ):
        ruleset.require_approval(ruleset.load(candidate), str(candidate))
