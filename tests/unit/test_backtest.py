"""Backtests: the array scoring equals the engine, every figure equals a hand computation, labels
are honest about open chargeback windows, and tuning sees nothing of its holdout period."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import cache

import numpy as np
import pytest
import yaml

from fraudlake.backtest import inputs, labels, metrics, scoring
from fraudlake.backtest.figures import Budget, BudgetError
from fraudlake.backtest.inputs import History
from fraudlake.backtest.replay import Replay, Replays
from fraudlake.backtest.run import backtest, changes, day_ms
from fraudlake.backtest.runs import Request, execute
from fraudlake.backtest.tune import Objective, Tuning, time_split, tune
from fraudlake.config import PROJECT_ROOT
from fraudlake.contract import SCHEMA_VERSION, Chargeback, CustomerProfile
from fraudlake.rules import ruleset
from fraudlake.rules.definition import DAY_MS, HOUR_MS
from fraudlake.rules.engine import evaluate
from fraudlake.rules.history import velocity_count
from fraudlake.simulator.generator import SimConfig
from fraudlake.topics import CHARGEBACK_WINDOW_DAYS
from tests.factories import payment

DAY0 = 1_790_000_000_000 // DAY_MS * DAY_MS
RULES = ruleset.parse(
    {
        "version": "t",
        "score_cap": 100,
        "alert": {"threshold": 50, "always": ["PAYMENT_FAILED"]},
        "severity": {"medium": 50, "high": 80},
        "rules": {
            "GEO_MISMATCH": {"points": 60},
            "PAYMENT_FAILED": {"points": 10},
            "DIRECT_TRAFFIC": {"points": 20},
        },
    }
)
PROFILE = CustomerProfile("cus-1", "DE", "Europe/Berlin", DAY0 - 400 * DAY_MS, "example.com", SCHEMA_VERSION)


def _scripted() -> tuple[Replay, list[Chargeback]]:
    """Day 0 (window closed): p1 clean, p2 fraud alerted, p3 legitimate alerted at 80, p4 failed
    (always alerts); day 1 (window open): p5 alerted, p6 clean, p7 charged back and missed."""

    def at(day: int, hour: int) -> int:
        return DAY0 + day * DAY_MS + hour * HOUR_MS

    payments = [
        payment(payment_id="p1", event_time=at(0, 1)),
        payment(payment_id="p2", event_time=at(0, 2), ip_country="FR", amount=Decimal("100.00")),
        payment(
            payment_id="p3", event_time=at(0, 3), ip_country="FR", utm_source=None, amount=Decimal("30.00")
        ),
        payment(payment_id="p4", event_time=at(0, 4), status="failed", failure_reason="card_declined"),
        payment(payment_id="p5", event_time=at(1, 1), ip_country="FR"),
        payment(payment_id="p6", event_time=at(1, 2)),
        payment(payment_id="p7", event_time=at(1, 3), amount=Decimal("40.00")),
    ]
    as_of = DAY0 + 10 * DAY_MS + 12 * HOUR_MS
    # p6's chargeback comes after the as-of date: not known yet

    def chargeback(pid: str, reported: int) -> Chargeback:
        return Chargeback(pid, "cus-1", Decimal("1"), "EUR", "fraudulent", reported, SCHEMA_VERSION)

    chargebacks = [chargeback("p2", at(5, 0)), chargeback("p7", at(6, 0)), chargeback("p6", as_of + 1)]
    return Replay.build(payments, {"cus-1": PROFILE}, velocity_count(RULES)), chargebacks


def test_every_figure_equals_a_hand_computation_and_open_windows_stay_out_of_the_rates() -> None:
    replay, chargebacks = _scripted()
    known = labels.from_chargebacks(replay, chargebacks, 10, DAY0 + 10 * DAY_MS + 12 * HOUR_MS)
    scores = scoring.score(replay, RULES)
    assert scores.score.tolist() == [0, 60, 80, 10, 60, 0, 0]
    assert scores.alert.tolist() == [False, True, True, True, True, False, False]
    everything = np.ones(len(replay), np.bool_)
    figures = metrics.figures(replay, scores, known, everything, Budget(alerts_per_day=2))
    assert figures.as_dict() == {
        "payments": 7,
        "labelled": 5,
        "pending": 2,
        "frauds": 2,
        "legit": 3,
        "alerts": 4,
        "caught": 1,
        "false_alerts": 2,
        "recall": 0.5,
        "precision": 1 / 3,
        "legit_alerted": 2 / 3,
        "days": 2,
        "alerts_per_day": 2.0,
        "fraud_value_eur": 140.0,
        "fraud_value_caught_eur": 100.0,
        "good_value_alerted_eur": 80.0,
        "top_k": 2,
        "top_k_precision": 0.5,
    }
    # each day's single best alert: p3 (80, legitimate) on day 0; day 1's p5 is pending
    assert metrics.figures(replay, scores, known, everything, Budget(alerts_per_day=1)).top_k_precision == 0.0
    geo = next(r for r in metrics.per_rule(scores, known, everything) if r["rule"] == "GEO_MISMATCH")
    assert geo == {
        "rule": "GEO_MISMATCH",
        "hits": 3,
        "in_alerts": 3,
        "fraud_hit": 0.5,
        "legit_hit": 1 / 3,
        "precision": 0.5,
    }
    days = metrics.per_day(replay, scores, known, everything)
    assert [(d["payments"], d["pending"], d["alerts"], d["caught"], d["frauds"]) for d in days] == [
        (4, 0, 3, 1, 1),
        (3, 2, 1, 0, 1),
    ]
    assert "window 10 days" in known.source


def test_chargeback_window_default_is_dbts() -> None:
    project = yaml.safe_load((PROJECT_ROOT / "dbt" / "dbt_project.yml").read_text())
    assert project["vars"]["chargeback_window_days"] == CHARGEBACK_WINDOW_DAYS


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("200/day", Budget(alerts_per_day=200)),
        ("1.5 %", Budget(legit_share=0.015)),
        ("12.5/day", Budget(alerts_per_day=12.5)),
    ],
)
def test_budgets_parse(text: str, budget: Budget) -> None:
    assert Budget.parse(text) == budget


@pytest.mark.parametrize("text", ["200", "0/day", "100%", "lots", "-1%"])
def test_a_bad_budget_is_refused_with_the_forms_it_takes(text: str) -> None:
    with pytest.raises(BudgetError, match=r"200/day.*1%"):
        Budget.parse(text)


@cache
def _simulated(seed: int = 11, events: int = 30_000) -> History:
    return inputs.from_simulation(SimConfig(seed=seed, events=events, start_ms=DAY0))


@cache
def _replays() -> Replays:
    history = _simulated()
    return Replays(history.payments, history.profiles)


def _replay() -> Replay:
    return _replays()(ruleset.load())


def _assert_scored_as_the_engine(replay: Replay, rules: ruleset.RuleSet) -> None:
    scores = scoring.score(replay, rules)
    severity = scores.severity(rules)
    for i, (p, f) in enumerate(zip(replay.payments, replay.features, strict=True)):
        decision = evaluate(rules, p, f, 0)
        assert (decision.score, decision.is_alert, decision.severity) == (
            scores.score[i],
            scores.alert[i],
            severity[i],
        ), p.payment_id


@cache
def _tuned() -> tuple[ruleset.RuleSet, Tuning]:
    replay, live = _replay(), ruleset.load()
    truth = labels.from_truth(replay, _simulated().truth or [])
    split = time_split(replay, replay.between(None, None))
    tuning = Tuning(Budget(legit_share=0.01), Objective(), split, "v1-tuned")
    return tune(replay, truth, live, tuning)[0], tuning


def test_array_scoring_equals_the_engine_for_v1_and_a_tuned_candidate() -> None:
    _assert_scored_as_the_engine(_replay(), ruleset.load())
    _assert_scored_as_the_engine(_replay(), _tuned()[0])


def test_on_a_fixed_seed_the_candidate_catches_more_fraud_and_alerts_less_on_the_holdout() -> None:
    replay, live = _replay(), ruleset.load()
    candidate, tuning = _tuned()
    truth = labels.from_truth(replay, _simulated().truth or [])
    before, after = (
        metrics.figures(replay, scoring.score(replay, r), truth, tuning.split.holdout)
        for r in (live, candidate)
    )
    assert after.caught > before.caught and after.false_alerts < before.false_alerts / 3, (before, after)
    train = metrics.figures(replay, scoring.score(replay, candidate), truth, tuning.split.train)
    assert train.legit_alerted is not None and train.legit_alerted <= 0.01, (
        "within budget where it was searched"
    )
    # deployable into the running job: same rule ids and velocity state, a valid file of a new version
    assert list(candidate.rules) == list(live.rules) and candidate.version != live.version
    assert candidate.param("VELOCITY", "min_payments") == live.param("VELOCITY", "min_payments")
    assert ruleset.parse(yaml.safe_load(ruleset.dump(candidate))) == candidate


def test_nothing_of_the_holdout_period_informs_the_search() -> None:
    replay, live = _replay(), ruleset.load()
    candidate, tuning = _tuned()
    truth = labels.from_truth(replay, _simulated().truth or [])
    flipped = replace(truth, fraud=np.where(tuning.split.holdout, ~truth.fraud, truth.fraud))
    assert tune(replay, flipped, live, tuning)[0] == candidate


def test_a_report_names_each_change_with_its_effect() -> None:
    replay, live = _replay(), ruleset.load()
    candidate, tuning = _tuned()
    truth = labels.from_truth(replay, _simulated().truth or [])
    result = backtest(_replays(), truth, live, live, replay.between(None, None), tuning.budget, tuning)
    found = [c["change"] for c in result["tuning"]["changes"]]
    assert found == [text for text, _ in changes(live, candidate)] and found
    assert result["candidate"] == candidate
    assert result["tuning"]["holdout"]["candidate"]["version"] == "v1-tuned"


def _deeper(rules: ruleset.RuleSet, version: str) -> ruleset.RuleSet:
    velocity = rules.rules["VELOCITY"]
    params = velocity.params.model_copy(update={"min_payments": velocity.params.min_payments + 1})
    return replace(rules, version=version, rules=rules.rules | {"VELOCITY": replace(velocity, params=params)})


def test_each_version_is_scored_on_the_velocity_features_it_reads() -> None:
    live = ruleset.load()
    deeper = _deeper(live, "v1-deeper")
    truth = labels.from_truth(_replay(), _simulated().truth or [])
    scope = _replay().between(None, None)
    alone = backtest(_replays(), truth, live, live, scope)
    beside = backtest(_replays(), truth, deeper, live, scope)
    assert beside["live"] == alone["live"], "the live rules' figures do not depend on what is tested"
    deep_replay = _replays()(deeper)
    assert deep_replay is not _replay() and deep_replay.velocity_payments == velocity_count(deeper)
    assert (
        beside["tested"]["overall"]
        == metrics.figures(deep_replay, scoring.score(deep_replay, deeper), truth, scope).as_dict()
    )


def test_a_candidate_tuned_from_other_rules_is_named_after_them_and_every_difference_is_reported() -> None:
    history, live = _simulated(), ruleset.load()
    fewer = replace(
        live,
        version="v1-fewer",
        rules={k: v for k, v in live.rules.items() if k != "DIRECT_TRAFFIC"},
        always_alert=live.always_alert - {"DIRECT_TRAFFIC"},
    )
    request = Request(rules=fewer, live=live, budget=Budget(legit_share=0.01), tune=True)
    result, candidate = execute(history, request)
    assert candidate is not None and candidate.version.startswith("v1-fewer-tuned-")
    assert "DIRECT_TRAFFIC" not in candidate.rules
    found = [c["change"] for c in result["tuning"]["changes"]]
    assert "-DIRECT_TRAFFIC (rule removed)" in found
    [removed] = [alone for text, alone in changes(live, candidate) if text.startswith("-DIRECT_TRAFFIC")]
    assert set(removed.rules) == set(live.rules) - {"DIRECT_TRAFFIC"}


def _by_chargebacks(history: History) -> History:
    return replace(history, truth=None)


def test_under_chargeback_labels_a_share_budget_counts_pending_payments_as_legitimate() -> None:
    # 28 days of history, a 90-day window: no payment is known legitimate yet, so a budget on the
    # known ones alone would let the search alert nearly everything
    history = _by_chargebacks(_simulated())
    request = Request(rules=ruleset.load(), live=ruleset.load(), budget=Budget(legit_share=0.01), tune=True)
    result, candidate = execute(history, request)
    train = result["tuning"]["train"]["candidate"]
    assert train["legit"] == 0 and train["pending"] > 0.9 * train["payments"]
    unflagged = train["payments"] - train["frauds"]
    assert 0 < train["alerts"] - train["caught"] <= 0.01 * unflagged, train
    assert candidate is not None and "pending ones counted" in result["tuning"]["budget"]


def test_the_search_sees_only_chargebacks_reported_before_the_holdout() -> None:
    history = _by_chargebacks(_simulated())
    request = Request(rules=ruleset.load(), live=ruleset.load(), budget=Budget(alerts_per_day=20), tune=True)
    result, candidate = execute(history, request)
    holdout_from = day_ms(result["tuning"]["holdout"]["from"])
    later = [c for c in history.chargebacks if c.reported_at >= holdout_from]
    assert later, "the test needs chargebacks reported in the holdout period"
    known = replace(history, chargebacks=[c for c in history.chargebacks if c.reported_at < holdout_from])
    again, same = execute(known, request)
    assert same == candidate
    assert again["tuning"]["train"] == result["tuning"]["train"]
    assert result["tuning"]["train"]["labels"] != result["labels"]
