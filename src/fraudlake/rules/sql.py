"""The rules as Flink SQL: each rule's condition and reason text, beside the Python checks of engine.py.

Both renderings read their parameters from the same RuleSet, and the parity test runs both on the
same payments. The SQL reads a row with the payment's fields, its features under the names of
`engine.Features` (`prior_payments`, `prior_successes`, `prior_success_sum`, `velocity_span_ms`,
`device_seen`) and the customer's profile as `profile_customer_id`, `profile_country`,
`profile_timezone`, `profile_registered_ms` (all NULL when the customer is unknown).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from fraudlake.rules.engine import DAY_MS, HOUR_MS, MINUTE_MS
from fraudlake.rules.ruleset import RuleSet


@dataclass(frozen=True)
class SqlRule:
    condition: str
    """A BOOLEAN expression: the rule fires when it is TRUE (NULL does not fire)."""
    detail: str
    """A STRING expression: the text after `RULE_ID: `, evaluated only when the rule fires."""


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _text(expression: str) -> str:
    return f"CAST({expression} AS STRING)"


def _first_payment(_: RuleSet) -> SqlRule:
    return SqlRule(
        "prior_successes = 0",
        "CONCAT('no earlier successful payment', CASE WHEN prior_payments > 0 THEN "
        f"CONCAT(' (', {_text('prior_payments')}, ' failed before)') ELSE '' END)",
    )


def _new_customer(rules: RuleSet) -> SqlRule:
    limit_ms = round(rules.param("NEW_CUSTOMER", "max_account_age_days") * DAY_MS)
    age = "GREATEST(event_time - profile_registered_ms, 0)"
    return SqlRule(
        f"profile_customer_id IS NULL OR event_time - profile_registered_ms < {limit_ms}",
        "CASE WHEN profile_customer_id IS NULL THEN 'no customer profile' ELSE CONCAT('registered ', "
        f"{_text(f'{age} / {DAY_MS}')}, 'd ', {_text(f'MOD({age}, {DAY_MS}) / {HOUR_MS}')}, 'h before') END",
    )


LOCAL_HOUR = (
    "CAST(SUBSTRING(CONVERT_TZ(DATE_FORMAT(TO_TIMESTAMP_LTZ(event_time, 3), 'yyyy-MM-dd HH:mm:ss'), "
    "'UTC', COALESCE(profile_timezone, 'UTC')) FROM 12 FOR 2) AS INT)"
)
"""The payment's hour in the customer's time zone (table.local-time-zone is UTC in the job)."""


def _unusual_hour(rules: RuleSet) -> SqlRule:
    start, end = rules.param("UNUSUAL_HOUR", "from_hour"), rules.param("UNUSUAL_HOUR", "to_hour")
    inside = (
        f"local_hour >= {start} AND local_hour < {end}"
        if start <= end
        else f"(local_hour >= {start} OR local_hour < {end})"
    )
    return SqlRule(
        inside,
        "CONCAT(LPAD(CAST(local_hour AS STRING), 2, '0'), 'h local (', "
        "COALESCE(profile_timezone, 'UTC'), ')')",
    )


def _mobile_device(rules: RuleSet) -> SqlRule:
    types = ", ".join(literal(t) for t in rules.param("MOBILE_DEVICE", "device_types"))
    return SqlRule(f"device_type IN ({types})", "device_type")


def _direct_traffic(_: RuleSet) -> SqlRule:
    return SqlRule("utm_source IS NULL AND referrer IS NULL", "'no UTM source or referrer'")


def _payment_failed(_: RuleSet) -> SqlRule:
    return SqlRule("status = 'failed'", "COALESCE(failure_reason, 'failed')")


def _velocity(rules: RuleSet) -> SqlRule:
    limit_ms = rules.param("VELOCITY", "window_minutes") * MINUTE_MS
    count = rules.param("VELOCITY", "min_payments")
    return SqlRule(
        f"velocity_span_ms <= {limit_ms}",
        f"CONCAT('{count} payments in ', {_text(f'velocity_span_ms / {MINUTE_MS}')}, 'm ', "
        f"{_text(f'MOD(velocity_span_ms, {MINUTE_MS}) / 1000')}, 's')",
    )


def _geo_mismatch(_: RuleSet) -> SqlRule:
    return SqlRule(
        "profile_customer_id IS NOT NULL AND ip_country <> profile_country",
        "CONCAT('IP in ', ip_country, ', customer in ', profile_country)",
    )


def _new_device(_: RuleSet) -> SqlRule:
    return SqlRule(
        "NOT device_seen AND prior_payments > 0",
        "CONCAT(device_type, ' ', device_fingerprint, ' not seen in ', "
        f"{_text('prior_payments')}, ' earlier payments')",
    )


def _unusual_amount(rules: RuleSet) -> SqlRule:
    ratio = Decimal(str(rules.param("UNUSUAL_AMOUNT", "ratio")))
    history = max(rules.param("UNUSUAL_AMOUNT", "min_history"), 1)
    return SqlRule(
        f"prior_successes >= {history} AND amount * prior_successes > "
        f"CAST({ratio} AS DECIMAL(20, 6)) * prior_success_sum",
        f"CONCAT({_text('amount')}, ' ', currency, ' = ', "
        f"{_text('ROUND(amount * prior_successes / prior_success_sum, 1)')}, 'x the average ', "
        f"{_text('ROUND(prior_success_sum / prior_successes, 2)')})",
    )


SQL_RULES: dict[str, Callable[[RuleSet], SqlRule]] = {
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


def fired_columns(rules: RuleSet) -> list[str]:
    """`fired_<RULE>` BOOLEAN and `reason_<RULE>` STRING select items, in the engine's fixed rule order.

    The planner computes these below the last OVER window, so they are part of its state: a fixed
    order keeps that state's layout when the rules file is reordered or its points and parameters
    change (a savepoint then restores into the new rules)."""
    items = []
    for rule_id in (r for r in SQL_RULES if r in rules.rules):
        rule = SQL_RULES[rule_id](rules)
        items.append(f"COALESCE({rule.condition}, FALSE) AS fired_{rule_id}")
        items.append(
            f"CASE WHEN {rule.condition} THEN CONCAT('{rule_id}: ', {rule.detail}) END AS reason_{rule_id}"
        )
    return items


def decision_columns(rules: RuleSet) -> dict[str, str]:
    """score, severity, is_alert and reasons computed from the `fired_`/`reason_` columns."""
    points = " + ".join(f"CASE WHEN fired_{r.id} THEN {r.points} ELSE 0 END" for r in rules.rules.values())
    score = f"LEAST({points or '0'}, {rules.score_cap})"
    always = " OR ".join(f"fired_{rule_id}" for rule_id in sorted(rules.always_alert))
    reasons = ", ".join(f"reason_{rule_id}" for rule_id in rules.rules)
    return {
        "score": score,
        "severity": (
            f"CASE WHEN {score} >= {rules.high_from} THEN 'HIGH' "
            f"WHEN {score} >= {rules.medium_from} THEN 'MEDIUM' ELSE 'LOW' END"
        ),
        "is_alert": f"{score} >= {rules.alert_threshold}" + (f" OR {always}" if always else ""),
        "reasons": f"ARRAY_REMOVE(ARRAY[{reasons}], CAST(NULL AS STRING))",
    }
