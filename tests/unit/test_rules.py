"""Rules at their edges, scoring, severities and reasons; the rules file is validated on load."""

from __future__ import annotations

import copy
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlake.contract import SCHEMA_VERSION, CustomerProfile, Decision, Payment
from fraudlake.rules import ruleset
from fraudlake.rules.history import PriorActivity, score_stream
from fraudlake.rules.ruleset import RulesError
from tests.factories import payment

RULES = ruleset.load()
DAY = 86_400_000
MINUTE = 60_000
# 2026-01-15 12:00 UTC, a Thursday; Berlin is UTC+1 in January.
NOON = 1_768_478_400_000
PROFILE = CustomerProfile("cus-1", "DE", "Europe/Berlin", NOON - 400 * DAY, "web.de", SCHEMA_VERSION)
_ids = iter(range(10**9))


def pay(t: int, **changes: Any) -> Payment:
    number = next(_ids)
    return payment(payment_id=f"pay-{number:06d}", order_id=f"ord-{number}", event_time=t, **changes)


def decide(
    *payments: Payment, profile: CustomerProfile | None = PROFILE, rules: ruleset.RuleSet = RULES
) -> Decision:
    """The decision on the last payment, after the earlier ones built the history."""
    profiles = {profile.customer_id: profile} if profile else {}
    return list(score_stream(payments, profiles, rules, scored_at=0))[-1]


def fired(decision: Decision) -> set[str]:
    return {reason.split(":")[0] for reason in decision.reasons}


HISTORY = (pay(NOON - 20 * DAY), pay(NOON - 10 * DAY))  # two ordinary successful payments


@pytest.mark.parametrize(
    ("utc_hour_minute", "fires"),
    [
        ((0, 59), False),
        ((1, 0), True),
        ((4, 59), True),
        ((5, 0), False),
    ],  # 01:59 / 02:00 / 05:59 / 06:00 Berlin
)
def test_unusual_hour_in_customer_time_zone(utc_hour_minute: tuple[int, int], fires: bool) -> None:
    hour, minute = utc_hour_minute
    t = NOON - 12 * 3_600_000 + hour * 3_600_000 + minute * MINUTE
    decision = decide(*HISTORY, pay(t))
    assert ("UNUSUAL_HOUR" in fired(decision)) is fires
    if fires:
        assert f"UNUSUAL_HOUR: {hour + 1:02d}h local (Europe/Berlin)" in decision.reasons


@pytest.mark.parametrize(("gap_ms", "fires"), [(10 * MINUTE, True), (10 * MINUTE + 1, False)])
def test_velocity_third_payment_inside_or_outside_ten_minutes(gap_ms: int, fires: bool) -> None:
    decision = decide(*HISTORY, pay(NOON), pay(NOON + 4 * MINUTE), pay(NOON + gap_ms))
    assert ("VELOCITY" in fired(decision)) is fires
    if fires:
        assert f"VELOCITY: 3 payments in {gap_ms // MINUTE}m 0s" in decision.reasons


@pytest.mark.parametrize(("amount", "fires"), [("150.00", False), ("150.01", True)])
def test_unusual_amount_above_three_times_the_average(amount: str, fires: bool) -> None:
    decision = decide(*HISTORY, pay(NOON, amount=Decimal(amount)))
    assert ("UNUSUAL_AMOUNT" in fired(decision)) is fires
    if fires:
        assert "UNUSUAL_AMOUNT: 150.01 EUR = 3.0x the average 50.00" in decision.reasons


def test_unusual_amount_needs_enough_history() -> None:
    assert "UNUSUAL_AMOUNT" not in fired(decide(pay(NOON - DAY), pay(NOON, amount=Decimal("900.00"))))


def test_first_payment_after_only_failed_ones() -> None:
    failed = dict(status="failed", failure_reason="card_declined")
    decision = decide(pay(NOON - 2 * DAY, **failed), pay(NOON - DAY, **failed), pay(NOON))
    assert "FIRST_PAYMENT: no earlier successful payment (2 failed before)" in decision.reasons
    assert "FIRST_PAYMENT" not in fired(decide(*HISTORY, pay(NOON)))


@pytest.mark.parametrize(("age_days", "fires"), [(6.99, True), (7.0, False)])
def test_new_customer_registered_less_than_seven_days(age_days: float, fires: bool) -> None:
    profile = replace(PROFILE, registered_at=NOON - int(age_days * DAY))
    decision = decide(*HISTORY, pay(NOON), profile=profile)
    assert ("NEW_CUSTOMER" in fired(decision)) is fires


def test_unknown_customer_is_new_and_hours_are_utc() -> None:
    decision = decide(pay(NOON - 10 * 3_600_000), profile=None)  # 02:00 UTC
    assert "NEW_CUSTOMER: no customer profile" in decision.reasons
    assert "UNUSUAL_HOUR: 02h local (UTC)" in decision.reasons
    assert "GEO_MISMATCH" not in fired(decision)


def test_geo_mismatch_new_device_mobile_direct() -> None:
    decision = decide(
        *HISTORY,
        pay(
            NOON,
            ip_country="NG",
            device_type="android",
            device_fingerprint="fp-new",
            utm_source=None,
            referrer=None,
        ),
    )
    assert decision.reasons == (
        "MOBILE_DEVICE: android",
        "DIRECT_TRAFFIC: no UTM source or referrer",
        "GEO_MISMATCH: IP in NG, customer in DE",
        "NEW_DEVICE: android fp-new not seen in 2 earlier payments",
    )
    assert decision.score == 20 + 15 + 25 + 20
    assert (decision.severity, decision.is_alert) == ("HIGH", True)


def test_first_ever_payment_is_not_also_a_new_device() -> None:
    assert "NEW_DEVICE" not in fired(decide(pay(NOON)))


def test_score_is_capped_and_failed_payment_always_alerts() -> None:
    everything = decide(
        pay(
            NOON - 10 * 3_600_000,
            status="failed",
            failure_reason="do_not_honor",
            device_type="ios",
            utm_source=None,
            ip_country="RU",
        ),
        profile=replace(PROFILE, registered_at=NOON - DAY),
    )
    assert everything.score == 100
    failed_only = decide(*HISTORY, pay(NOON, status="failed", failure_reason="card_declined"))
    assert failed_only.reasons == ("PAYMENT_FAILED: card_declined",)
    assert (failed_only.score, failed_only.severity, failed_only.is_alert) == (50, "LOW", True)


@pytest.mark.parametrize(
    ("score", "severity"), [(0, "LOW"), (59, "LOW"), (60, "MEDIUM"), (79, "MEDIUM"), (80, "HIGH")]
)
def test_severity_bands(score: int, severity: str) -> None:
    assert RULES.severity(score) == severity


def test_quiet_payment_scores_zero() -> None:
    decision = decide(*HISTORY, pay(NOON))
    assert (decision.score, decision.reasons, decision.is_alert, decision.rules_version) == (
        0,
        (),
        False,
        "v1",
    )


def test_history_is_per_customer() -> None:
    other = pay(NOON - MINUTE, customer_id="cus-2")
    decision = decide(*HISTORY, other, pay(NOON - 30_000, customer_id="cus-2"), pay(NOON))
    assert "VELOCITY" not in fired(decision)


def _document() -> dict[str, Any]:
    return yaml.safe_load(ruleset.DEFAULT_RULES.read_text())


def _broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(_document())
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("version"), "rules.version: missing"),
        (
            lambda d: d["rules"]["VELOCITY"].update(window_minutes="ten"),
            "rules.rules.VELOCITY.window_minutes: expected an integer",
        ),
        (
            lambda d: d["rules"]["UNUSUAL_AMOUNT"].update(ratio=-3),
            "rules.rules.UNUSUAL_AMOUNT.ratio: expected a positive number",
        ),
        (lambda d: d["rules"].update(LUCKY_NUMBER={"points": 7}), "rules.rules.LUCKY_NUMBER: unknown rule"),
        (
            lambda d: d["rules"]["GEO_MISMATCH"].update(radius_km=5),
            "rules.rules.GEO_MISMATCH.radius_km: unknown parameter",
        ),
        (lambda d: d["rules"]["FIRST_PAYMENT"].pop("points"), "rules.rules.FIRST_PAYMENT.points: missing"),
        (
            lambda d: d["rules"]["UNUSUAL_HOUR"].update(to_hour=25),
            "rules.rules.UNUSUAL_HOUR.to_hour: expected 0..24",
        ),
        (
            lambda d: d["alert"].update(always=["NOPE"]),
            "rules.alert.always: 'NOPE' is not a rule of this file",
        ),
        (lambda d: d["severity"].update(high=10), "rules.severity.high: expected 60..100, got 10"),
        (
            lambda d: d["rules"]["MOBILE_DEVICE"].update(device_types=[]),
            "rules.rules.MOBILE_DEVICE.device_types: expected at least one entry",
        ),
        (lambda d: d.update(severty={}), "rules.severty: unknown field"),
        (lambda d: d["alert"].update(threshold=True), "rules.alert.threshold: expected an integer, got True"),
        (lambda d: d.update(rules=[]), "rules.rules: expected a mapping"),
    ],
)
def test_bad_rules_file_names_the_field(change: Any, message: str) -> None:
    with pytest.raises(RulesError) as error:
        ruleset.parse(_broken(change))
    assert str(error.value).startswith(message), str(error.value)


def test_load_reports_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        ruleset.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed")
    with pytest.raises(RulesError, match="not valid YAML"):
        ruleset.load(bad)


def test_batch_scoring_sorts_by_event_time(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from fraudlake.contract import DECISION, PAYMENT
    from fraudlake.rules.batch import score_file

    payments = [pay(NOON + i * MINUTE, amount=Decimal(10 + i)) for i in range(6)]
    shuffled = payments[:]
    random.Random(1).shuffle(shuffled)
    pq.write_table(PAYMENT.to_arrow(shuffled), tmp_path / "in.parquet")
    assert score_file(tmp_path / "in.parquet", tmp_path / "out.parquet", RULES, {"cus-1": PROFILE}) == 6
    decisions = DECISION.from_arrow(pq.read_table(tmp_path / "out.parquet"))
    expected = list(score_stream(payments, {"cus-1": PROFILE}, RULES, scored_at=0))
    assert [replace(d, scored_at=0) for d in decisions] == expected
    assert "VELOCITY: 3 payments in 2m 0s" in expected[2].reasons


def test_prior_activity_counts_as_history_but_holds_no_payment_times() -> None:
    """Earlier history from Bronze (fraudlake_flink/prior.py): counts, sums and devices, never velocity."""
    prior = [
        PriorActivity("cus-1", "fp-home", payments=3, successes=2, success_sum=Decimal("100.00")),
        PriorActivity("cus-1", "fp-old", payments=1, successes=0, success_sum=Decimal("0")),
    ]
    payments = [
        pay(NOON, amount=Decimal("200.00")),
        pay(NOON + MINUTE, device_fingerprint="fp-old"),
        pay(NOON + 2 * MINUTE, device_fingerprint="fp-new", device_type="ios"),
    ]
    first, old_device, new_device = score_stream(payments, {"cus-1": PROFILE}, RULES, 0, prior)
    assert first.reasons == ("UNUSUAL_AMOUNT: 200.00 EUR = 4.0x the average 50.00",)
    assert old_device.reasons == ()
    assert new_device.reasons == (
        "MOBILE_DEVICE: ios",
        "VELOCITY: 3 payments in 2m 0s",
        "NEW_DEVICE: ios fp-new not seen in 6 earlier payments",
    )
    without = list(score_stream(payments, {"cus-1": PROFILE}, RULES, 0))
    assert fired(without[0]) == {"FIRST_PAYMENT"}
