"""The rules as Flink SQL columns: each catalog rule's SQL rendering, then score, severity, alert.

Both engines read their parameters from the same RuleSet, and the parity test runs both on the
same payments; the row the SQL reads is described in `definition.py`.
"""

from __future__ import annotations

from fraudlake.rules.catalog import CATALOG
from fraudlake.rules.ruleset import RuleSet

LOCAL_HOUR = (
    "CAST(SUBSTRING(CONVERT_TZ(DATE_FORMAT(TO_TIMESTAMP_LTZ(event_time, 3), 'yyyy-MM-dd HH:mm:ss'), "
    "'UTC', COALESCE(profile_timezone, 'UTC')) FROM 12 FOR 2) AS INT)"
)
"""The payment's hour in the customer's time zone (table.local-time-zone is UTC in the job)."""


def fired_columns(rules: RuleSet) -> list[str]:
    """`fired_<RULE>` BOOLEAN and `reason_<RULE>` STRING select items, in the catalog's fixed rule order.

    The planner computes these below the last OVER window, so they are part of its state: a fixed
    order keeps that state's layout when the rules file is reordered or its points and parameters
    change (a savepoint then restores into the new rules)."""
    items = []
    for rule_id in (r for r in CATALOG if r in rules.rules):
        rule = CATALOG[rule_id].sql(rules.rules[rule_id].params)
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
