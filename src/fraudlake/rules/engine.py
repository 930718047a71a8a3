"""Scoring one payment: the rules of a RuleSet applied to the payment and its customer's features.

Features are what the stream knows when the payment arrives (profile, history so far); how they
are computed lives in `history.py`, so that the batch scorer and the streaming job agree. Each
rule's check comes from the catalog.
"""

from __future__ import annotations

from fraudlake.contract import SCHEMA_VERSION, Decision, Payment
from fraudlake.rules.catalog import CATALOG
from fraudlake.rules.definition import Features
from fraudlake.rules.ruleset import RuleSet


def evaluate(rules: RuleSet, payment: Payment, features: Features, scored_at: int) -> Decision:
    """Apply every rule of `rules`; reasons keep the rules file's order."""
    reasons: list[str] = []
    fired: list[str] = []
    points = 0
    for rule_id, rule in rules.rules.items():
        detail = CATALOG[rule_id].check(rule.params, payment, features)
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
