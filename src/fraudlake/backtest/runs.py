"""A backtest run from a request: the same steps for `fraudlake backtest` and DAG `rules_backtest`
(replay, labels, period, optional tuning), and the files it leaves for a person to review."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fraudlake.backtest import labels, report
from fraudlake.backtest.figures import Budget
from fraudlake.backtest.inputs import History
from fraudlake.backtest.replay import Replays
from fraudlake.backtest.run import backtest
from fraudlake.backtest.tune import Objective, Tuning, time_split
from fraudlake.rules import ruleset
from fraudlake.rules.ruleset import Approval, RuleSet, content_sha256
from fraudlake.topics import CHARGEBACK_WINDOW_DAYS


@dataclass(frozen=True)
class Request:
    rules: RuleSet
    """The rules measured (and the search's start)."""
    live: RuleSet
    labels: str = "auto"
    """`truth`, `chargebacks`, or `auto`: the simulator's truth when there is any."""
    chargeback_window_days: int = CHARGEBACK_WINDOW_DAYS
    as_of_ms: int | None = None
    """Chargebacks known up to then (default: the history's latest event or chargeback)."""
    start_ms: int | None = None
    end_ms: int | None = None
    budget: Budget | None = None
    tune: bool = False
    objective: Objective = field(default_factory=Objective)
    holdout_from_ms: int | None = None
    holdout_share: float = 0.3
    version: str | None = None
    seed: int = 0


class NothingToBacktest(ValueError):
    """The history holds no payment (in the period asked for)."""


def execute(history: History, request: Request) -> tuple[dict[str, Any], RuleSet | None]:
    """The run's results (`metrics.json`) and, when tuning, the candidate."""
    if not history.payments:
        raise NothingToBacktest("no payment in the history: nothing to backtest")
    rules, live = request.rules, request.live
    if rules.version == live.version and content_sha256(rules) != content_sha256(live):
        raise ValueError(
            f"rules: version {rules.version} is the live rules' version but its rules differ: "
            "give the rules measured a version of their own"
        )
    if request.tune and request.version in (rules.version, live.version):
        raise ValueError(f"version: {request.version} is taken; the candidate needs a new rules version")
    replays = Replays(history.payments, history.profiles)
    replay = replays(request.rules)
    source = request.labels
    if source == "auto":
        source = "truth" if history.truth else "chargebacks"
    if source == "truth":
        if not history.truth:
            raise ValueError("labels: no simulator truth in this history")
        known = labels.from_truth(replay, history.truth)
        as_of = None
    else:
        latest = max([int(replay.event_time.max()), *(c.reported_at for c in history.chargebacks)])
        as_of = request.as_of_ms if request.as_of_ms is not None else latest
        known = labels.from_chargebacks(replay, history.chargebacks, request.chargeback_window_days, as_of)
    scope = replay.between(request.start_ms, request.end_ms)
    if not scope.any():
        raise NothingToBacktest("no payment in the period asked for")
    tuning = None
    if request.tune:
        if request.budget is None:
            raise ValueError("tuning needs a budget (alerts per day, e.g. 200/day, or a share, e.g. 1%)")
        split = time_split(replay, scope, request.holdout_from_ms, request.holdout_share)
        # the search sees only the chargebacks reported before the holdout begins
        train_labels = (
            None
            if as_of is None
            else labels.from_chargebacks(
                replay, history.chargebacks, request.chargeback_window_days,
                min(as_of, split.holdout_from_ms - 1),
            )
        )  # fmt: skip
        tuning = Tuning(
            request.budget,
            request.objective,
            split,
            request.version,
            seed=request.seed,
            train_labels=train_labels,
        )
    result = backtest(replays, known, request.rules, request.live, scope, request.budget, tuning)
    candidate = result.pop("candidate", None)
    return result, candidate


def write(folder: Path, result: dict[str, Any], candidate: RuleSet | None, proposed_by: str) -> Path | None:
    """report.md, metrics.json and, when tuning, the candidate as rules.yaml (its path), which
    records who proposed it and waits for a person's approval (`fraudlake rules approve`)."""
    folder.mkdir(parents=True, exist_ok=True)
    candidate_file = None
    if candidate is not None:
        candidate_file = folder / "rules.yaml"
        proposed = replace(candidate, approval=Approval(proposed_by))
        header = (
            f"fraudlake rules, version {candidate.version}: a candidate from rules "
            f"{result['live']['version']}, proposed by {proposed_by}.\n"
            "See report.md beside it. Before it can be deployed, a person approves it:\n"
            f"  fraudlake rules approve {candidate_file} --by NAME"
        )
        candidate_file.write_text(ruleset.dump(proposed, header))
    (folder / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    (folder / "report.md").write_text(
        report.markdown(result, str(candidate_file) if candidate_file else None)
    )
    return candidate_file
