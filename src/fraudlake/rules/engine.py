"""Scoring one payment: the rules of a RuleSet applied to the payment and its customer's features.

Features are what the stream knows when the payment arrives (profile, history so far); how they
are computed lives in `history.py`, so that the batch scorer and the streaming job agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from fraudlake.contract import SCHEMA_VERSION, CustomerProfile, Decision, Payment
from fraudlake.rules.ruleset import RuleSet

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Features:
    """The customer's context at the moment of one payment (this payment not yet in the history)."""

    profile: CustomerProfile | None
    prior_payments: int
    prior_successes: int
    prior_success_sum: Decimal
    velocity_span_ms: int | None
    """Time from the earliest of the customer's last VELOCITY.min_payments payments (this one
    included) to this one; None while the customer has made fewer."""
    device_seen: bool


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_hour(event_time_ms: int, timezone: str | None) -> int:
    """The hour of the payment in the customer's time zone (UTC when unknown)."""
    zone = _zone(timezone or "UTC")
    return datetime.fromtimestamp(event_time_ms / 1000, zone).hour


Check = Callable[[RuleSet, Payment, Features], str | None]


def _first_payment(_: RuleSet, __: Payment, f: Features) -> str | None:
    if f.prior_successes:
        return None
    failed = f.prior_payments
    return "no earlier successful payment" + (f" ({failed} failed before)" if failed else "")


def _new_customer(rules: RuleSet, p: Payment, f: Features) -> str | None:
    if f.profile is None:
        return "no customer profile"
    age_ms = p.event_time - f.profile.registered_at
    if age_ms >= round(rules.param("NEW_CUSTOMER", "max_account_age_days") * DAY_MS):
        return None
    age_ms = max(age_ms, 0)
    return f"registered {age_ms // DAY_MS}d {age_ms % DAY_MS // HOUR_MS}h before"


def _unusual_hour(rules: RuleSet, p: Payment, f: Features) -> str | None:
    timezone = f.profile.timezone if f.profile else None
    hour = local_hour(p.event_time, timezone)
    start, end = rules.param("UNUSUAL_HOUR", "from_hour"), rules.param("UNUSUAL_HOUR", "to_hour")
    inside = start <= hour < end if start <= end else (hour >= start or hour < end)
    return f"{hour:02d}h local ({timezone or 'UTC'})" if inside else None


def _mobile_device(rules: RuleSet, p: Payment, _: Features) -> str | None:
    return p.device_type if p.device_type in rules.param("MOBILE_DEVICE", "device_types") else None


def _direct_traffic(_: RuleSet, p: Payment, __: Features) -> str | None:
    return "no UTM source or referrer" if p.utm_source is None and p.referrer is None else None


def _payment_failed(_: RuleSet, p: Payment, __: Features) -> str | None:
    return p.failure_reason or "failed" if p.status == "failed" else None


def _velocity(rules: RuleSet, _: Payment, f: Features) -> str | None:
    span = f.velocity_span_ms
    if span is None or span > rules.param("VELOCITY", "window_minutes") * MINUTE_MS:
        return None
    count = rules.param("VELOCITY", "min_payments")
    return f"{count} payments in {span // MINUTE_MS}m {span % MINUTE_MS // 1000}s"


def _geo_mismatch(_: RuleSet, p: Payment, f: Features) -> str | None:
    if f.profile is None or p.ip_country == f.profile.country:
        return None
    return f"IP in {p.ip_country}, customer in {f.profile.country}"


def _new_device(_: RuleSet, p: Payment, f: Features) -> str | None:
    if f.device_seen or not f.prior_payments:
        return None
    return f"{p.device_type} {p.device_fingerprint} not seen in {f.prior_payments} earlier payments"


def _unusual_amount(rules: RuleSet, p: Payment, f: Features) -> str | None:
    n, total = f.prior_successes, f.prior_success_sum
    if n < max(rules.param("UNUSUAL_AMOUNT", "min_history"), 1):
        return None
    if p.amount * n <= Decimal(str(rules.param("UNUSUAL_AMOUNT", "ratio"))) * total:
        return None
    ratio = _round(p.amount * n / total, "0.1")
    return f"{p.amount} {p.currency} = {ratio}x the average {_round(total / n, '0.01')}"


def _round(value: Decimal, step: str) -> Decimal:
    """Half-up, as Flink SQL's ROUND: reasons read the same in both engines."""
    return value.quantize(Decimal(step), rounding=ROUND_HALF_UP)


CHECKS: dict[str, Check] = {
    "FIRST_PAYMENT": _first_payment,
    "NEW_CUSTOMER": _new_customer,
    "UNUSUAL_HOUR": _unusual_hour,
    "MOBILE_DEVICE": _mobile_device,
    "DIRECT_TRAFFIC": _direct_traffic,
    "PAYMENT_FAILED": _payment_failed,
    "VELOCITY": _velocity,
    "GEO_MISMATCH": _geo_mismatch,
    "NEW_DEVICE": _new_device,
    "UNUSUAL_AMOUNT": _unusual_amount,
}


def evaluate(rules: RuleSet, payment: Payment, features: Features, scored_at: int) -> Decision:
    """Apply every rule of `rules`; reasons keep the rules file's order."""
    reasons: list[str] = []
    fired: list[str] = []
    points = 0
    for rule_id, rule in rules.rules.items():
        detail = CHECKS[rule_id](rules, payment, features)
        if detail is not None:
            fired.append(rule_id)
            reasons.append(f"{rule_id}: {detail}")
            points += rule.points
    score = min(points, rules.score_cap)
    alert = score >= rules.alert_threshold or any(rule_id in rules.always_alert for rule_id in fired)
    return Decision(
        payment_id=payment.payment_id,
        customer_id=payment.customer_id,
        score=score,
        severity=rules.severity(score),
        is_alert=alert,
        reasons=tuple(reasons),
        rules_version=rules.version,
        event_time=payment.event_time,
        scored_at=scored_at,
        schema_version=SCHEMA_VERSION,
    )
