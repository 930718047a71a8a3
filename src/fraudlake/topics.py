"""The Kafka topics of fraudlake, with their partitions and retention.

Payments and their derived streams are keyed by customer_id, so partition counts bound how far the
scoring job can scale out; chargebacks arrive days later and are kept long enough to label them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DAY_MS = 24 * 60 * 60 * 1000
TRANSACTION_MAX_TIMEOUT_MS = 60 * 60 * 1000
"""How long the broker keeps a transactional producer's open transaction (the job's sinks use it all)."""

BRONZE_SCHEMA = "bronze"
"""The PostgreSQL schema the Bronze loader puts each topic's landed records in."""


def bronze_table(topic: str) -> str:
    """A topic's table in BRONZE_SCHEMA: payment-scores -> payment_scores."""
    return re.sub(r"[^a-z0-9_]", "_", topic.lower())


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    purpose: str


PAYMENTS = TopicSpec("payments", 6, 7 * _DAY_MS, "payment events, keyed by customer_id")
PAYMENT_SCORES = TopicSpec("payment-scores", 6, 7 * _DAY_MS, "one score per payment")
FRAUD_ALERTS = TopicSpec("fraud-alerts", 3, 30 * _DAY_MS, "alerts with severity and reasons")
PAYMENTS_DLQ = TopicSpec("payments-dlq", 1, 30 * _DAY_MS, "malformed input with its reason")
CHARGEBACKS = TopicSpec("chargebacks", 3, 180 * _DAY_MS, "fraud labels, arriving days later")
CHARGEBACK_WINDOW_DAYS = 90
"""Days after a payment in which its chargeback may still come: only then is a payment without one
known to be legitimate (dbt's var `chargeback_window_days`, the backtests' labels)."""
GROUND_TRUTH = TopicSpec(
    "ground-truth", 3, 180 * _DAY_MS, "simulated payments' truth: fraud or not, scenario"
)

TOPICS: tuple[TopicSpec, ...] = (
    PAYMENTS,
    PAYMENT_SCORES,
    FRAUD_ALERTS,
    PAYMENTS_DLQ,
    CHARGEBACKS,
    GROUND_TRUTH,
)
