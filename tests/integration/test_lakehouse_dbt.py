"""dbt on real PostgreSQL: Bronze -> staging -> silver -> gold, checked against a computation of
its own from the same records; a bad batch fails on the named test and Gold keeps its last state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from psycopg import sql

from fraudlake.contract import ALERT, CHARGEBACK, DECISION, PAYMENT, Alert, Chargeback, Decision, alert_id_of
from fraudlake.lake import bronze, dbt
from fraudlake.platform.context import Context
from fraudlake.topics import CHARGEBACKS, FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS
from tests.factories import payment
from tests.integration.lake_harness import Landed

HOUR = bronze.HOUR_MS


@pytest.fixture
def landed(ctx: Context) -> Iterator[Landed]:
    made = Landed(ctx)
    yield made
    prefix = f"t{made.schema.rsplit('_', 1)[1]}_"
    made.drop(*(prefix + s for s in ("staging", "silver", "gold")))


def _severity(score: int) -> str:
    return "HIGH" if score >= 80 else "MEDIUM" if score >= 60 else "LOW"


def _build(ctx: Context, landed: Landed) -> tuple[Any, str]:
    prefix = f"t{landed.schema.rsplit('_', 1)[1]}_"
    done = dbt.run(ctx, "build", variables={"bronze_schema": landed.schema, "schema_prefix": prefix})
    return done, prefix + "gold"


def _gold(landed: Landed, schema: str) -> list[tuple[Any, ...]]:
    return landed.query(
        sql.SQL("select * from {} order by event_hour").format(sql.Identifier(schema, "fraud_kpis_hourly"))
    )


def test_gold_kpis_equal_an_independent_computation_and_a_bad_batch_never_reaches_gold(
    ctx: Context, landed: Landed
) -> None:
    hour = (int(time.time() * 1000) - 5 * HOUR) // HOUR * HOUR
    payments = [
        payment(payment_id=f"p-{n}", amount=Decimal(10 * n + 5), event_time=hour + n * HOUR // 5)
        for n in range(10)
    ]
    scores = {f"p-{n}": s for n, s in enumerate([0, 85, 65, 20, 100, 60, 0, 79, 90])}  # p-9: none yet
    decisions = [
        Decision(
            p.payment_id,
            p.customer_id,
            scores[p.payment_id],
            _severity(scores[p.payment_id]),
            scores[p.payment_id] >= 60,
            (),
            "v1",
            p.event_time,
            p.event_time + 100,
            1,
        )
        for p in payments
        if p.payment_id in scores
    ]
    alerts = [
        Alert(
            *(getattr(d, f) for f in DECISION.names),
            alert_id_of(d.payment_id, "v1"),
            p.amount,
            p.currency,
            p.merchant_id,
        )
        for d, p in zip(decisions, payments, strict=False)
        if d.is_alert
    ]
    chargebacks = [Chargeback("p-2", "cus-1", Decimal("25.00"), "EUR", "fraudulent", hour + 3 * HOUR, 1)]
    assert hour + 3 * HOUR < time.time() * 1000
    refused = payment(payment_id="p-future", event_time=hour + 40 * 24 * HOUR)  # readable, refused
    now = int(time.time() * 1000)  # the records' Kafka timestamp and landing time
    landed.batch(PAYMENTS.name, 0, 0, [PAYMENT.to_json(p) for p in [*payments, refused]], now)
    landed.batch(PAYMENT_SCORES.name, 0, 0, [DECISION.to_json(d) for d in decisions], now)
    landed.batch(PAYMENT_SCORES.name, 0, 9, [DECISION.to_json(decisions[1])], now)  # a duplicate copy
    landed.batch(FRAUD_ALERTS.name, 0, 0, [ALERT.to_json(a) for a in [*alerts, alerts[0]]], now)
    landed.batch(CHARGEBACKS.name, 0, 0, [CHARGEBACK.to_json(c) for c in chargebacks], now)
    landed.load()

    done, gold = _build(ctx, landed)
    assert done.returncode == 0, done.stdout[-3000:]

    expected = []
    for start in sorted({p.event_time // HOUR * HOUR for p in payments}):
        group = [p for p in payments if p.event_time // HOUR * HOUR == start]
        alerted = [p for p in group if scores.get(p.payment_id, 0) >= 60]
        by = {
            s: sum(_severity(scores[p.payment_id]) == s for p in alerted) for s in ("HIGH", "MEDIUM", "LOW")
        }
        expected.append(
            (
                datetime.fromtimestamp(start / 1000, UTC),
                len(group),
                sum(p.amount for p in group),
                len(alerted),
                by["HIGH"],
                by["MEDIUM"],
                by["LOW"],
                round(Decimal(len(alerted)) / len(group), 4),
                sum((p.amount for p in alerted), Decimal("0.00")),
            )
        )
    assert _gold(landed, gold) == expected

    again, _ = _build(ctx, landed)
    assert again.returncode == 0 and _gold(landed, gold) == expected, "a second run changes nothing"

    # the contract accepts it (known severity, score in range), the rules' bands do not
    bad = Decision(
        "p-9", "cus-1", 95, "LOW", True, (), "v1", payments[9].event_time, payments[9].event_time, 1
    )
    landed.batch(PAYMENT_SCORES.name, 0, 10, [DECISION.to_json(bad)], now)
    landed.load()
    failed, _ = _build(ctx, landed)
    assert failed.returncode != 0
    assert "FAIL 1 severity_agrees_with_score" in failed.stdout
    assert _gold(landed, gold) == expected, "Gold keeps its last good state"
