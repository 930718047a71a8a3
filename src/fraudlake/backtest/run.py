"""One backtest run: the rules measured beside the live ones, and, when tuning, a candidate found on
the training period and measured on the later holdout. The result is plain data (`metrics.json`);
`report.py` renders it for a reader."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

from fraudlake.backtest import metrics, scoring
from fraudlake.backtest.figures import Budget
from fraudlake.backtest.labels import Labels
from fraudlake.backtest.replay import Mask, Replay, Replays, date_of
from fraudlake.backtest.tune import Tuning, tune
from fraudlake.rules.ruleset import RuleSet, RuleSetting

HEADLINE = (
    "recall",
    "precision",
    "legit_alerted",
    "alerts_per_day",
    "top_k_precision",
    "fraud_value_caught_eur",
    "good_value_alerted_eur",
)


def measure(
    replay: Replay, rules: RuleSet, labels: Labels, scope: Mask, budget: Budget | None
) -> dict[str, Any]:
    scores = scoring.score(replay, rules)
    return {
        "version": rules.version,
        "overall": metrics.figures(replay, scores, labels, scope, budget).as_dict(),
        "per_rule": metrics.per_rule(scores, labels, scope),
        "per_group": metrics.per_group(scores, labels, scope),
        "per_day": metrics.per_day(replay, scores, labels, scope),
    }


def _overall(
    replay: Replay, rules: RuleSet, labels: Labels, scope: Mask, budget: Budget | None
) -> dict[str, Any]:
    return metrics.figures(replay, scoring.score(replay, rules), labels, scope, budget).as_dict()


def change(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float | None]:
    """Each headline figure's change from `before` to `after` (`Figures.as_dict()`)."""
    return {
        k: None if after[k] is None or before[k] is None else round(after[k] - before[k], 6) for k in HEADLINE
    }


def period(replay: Replay, scope: Mask) -> dict[str, Any]:
    days = replay.day[scope]
    return {"from": date_of(int(days.min())), "to": date_of(int(days.max())), "payments": int(scope.sum())}


def backtest(
    replays: Replays,
    labels: Labels,
    rules: RuleSet,
    live: RuleSet,
    scope: Mask,
    budget: Budget | None = None,
    tuning: Tuning | None = None,
) -> dict[str, Any]:
    """The run's results: `rules` and `live` on `scope`; with `tuning`, the candidate (searched from
    `rules`) against `live` on the training and the holdout periods, and each change's effect on
    the holdout. Each version is scored on the replay its VELOCITY.min_payments reads."""
    if not scope.any():
        raise ValueError("no payment in the period asked for")
    tested, baseline = (
        measure(replays(rules), rules, labels, scope, budget),
        measure(replays(live), live, labels, scope, budget),
    )
    result: dict[str, Any] = {
        "labels": labels.source,
        "period": period(replays(rules), scope),
        "budget": budget.describe() if budget else None,
        "live": baseline,
        "tested": tested,
        "change_vs_live": change(baseline["overall"], tested["overall"]),
    }
    if tuning is None:
        return result
    split, budget = tuning.split, tuning.budget
    known = tuning.train_labels or labels
    candidate, weighed = tune(replays(rules), known, rules, tuning)
    holdout = {"live": measure(replays(live), live, labels, split.holdout, budget)}
    holdout["candidate"] = measure(replays(candidate), candidate, labels, split.holdout, budget)
    result["tuning"] = {
        "budget": budget.describe(),
        "objective": tuning.objective.describe(),
        "configurations_weighed": weighed,
        "train": {
            **period(replays(rules), split.train),
            "labels": known.source,
            "live": _overall(replays(live), live, known, split.train, budget),
            "candidate": _overall(replays(candidate), candidate, known, split.train, budget),
        },
        "holdout": {
            **period(replays(rules), split.holdout),
            **holdout,
            "change": change(holdout["live"]["overall"], holdout["candidate"]["overall"]),
        },
        "changes": [
            {
                "change": text,
                "holdout_change": change(
                    holdout["live"]["overall"],
                    _overall(replays(alone), alone, labels, split.holdout, budget),
                ),
            }
            for text, alone in changes(live, candidate)
        ],
    }
    result["candidate"] = candidate
    return result


def changes(live: RuleSet, candidate: RuleSet) -> list[tuple[str, RuleSet]]:
    """Each difference of `candidate` from `live` in words, with `live` changed by it alone."""
    found: list[tuple[str, RuleSet]] = []
    if candidate.alert_threshold != live.alert_threshold:
        found.append(
            (
                f"alert.threshold {live.alert_threshold} -> {candidate.alert_threshold}",
                replace(live, alert_threshold=candidate.alert_threshold),
            )
        )
    for rule_id in sorted((live.always_alert ^ candidate.always_alert) & live.rules.keys()):
        kept = rule_id in candidate.always_alert
        found.append(
            (
                f"alert.always {'+' if kept else '-'}{rule_id}",
                replace(live, always_alert=live.always_alert ^ {rule_id}),
            )
        )
    if (candidate.medium_from, candidate.high_from) != (live.medium_from, live.high_from):
        found.append(
            (
                f"severity medium {live.medium_from} -> {candidate.medium_from}, "
                f"high {live.high_from} -> {candidate.high_from}",
                replace(live, medium_from=candidate.medium_from, high_from=candidate.high_from),
            )
        )
    for rule_id in sorted(live.rules.keys() - candidate.rules.keys()):
        found.append(
            (
                f"-{rule_id} (rule removed)",
                replace(
                    live,
                    rules={k: v for k, v in live.rules.items() if k != rule_id},
                    always_alert=live.always_alert - {rule_id},
                ),
            )
        )
    for rule_id in sorted(candidate.rules.keys() - live.rules.keys()):
        added = candidate.rules[rule_id]
        found.append(
            (
                f"+{rule_id} {added.points} points (rule added)",
                replace(
                    _with(live, added),
                    always_alert=live.always_alert | (candidate.always_alert & {rule_id}),
                ),
            )
        )
    for rule_id in sorted(live.rules.keys() & candidate.rules.keys(), key=list(live.rules).index):
        before, after = live.rules[rule_id], candidate.rules[rule_id]
        if after.points != before.points:
            found.append(
                (
                    f"{rule_id}.points {before.points} -> {after.points}",
                    _with(live, RuleSetting(rule_id, after.points, before.params)),
                )
            )
        old, new = before.params.model_dump(), after.params.model_dump()
        for name in (n for n in old if old[n] != new[n]):
            params = type(before.params).model_validate(old | {name: new[name]})
            found.append(
                (
                    f"{rule_id}.{name} {old[name]} -> {new[name]}",
                    _with(live, RuleSetting(rule_id, before.points, params)),
                )
            )
    return found


def _with(rules: RuleSet, setting: RuleSetting) -> RuleSet:
    return replace(rules, rules=rules.rules | {setting.id: setting})


def day_ms(date: str) -> int:
    """An ISO date's UTC midnight as epoch milliseconds."""
    return int(datetime.combine(datetime.fromisoformat(date).date(), time(), UTC).timestamp()) * 1000
