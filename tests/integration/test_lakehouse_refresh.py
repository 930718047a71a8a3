"""Airflow's lakehouse_refresh on the real platform: Bronze -> PostgreSQL -> dbt silver and gold,
checked against a computation of its own from the same records; a bad batch fails the run on the
named dbt test and Gold keeps its last good state. Also: the DAG as DagBag reads it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from fraudlake.contract import ALERT, CHARGEBACK, DECISION, PAYMENT, Alert, Chargeback, Decision, alert_id_of
from fraudlake.lake import bronze
from fraudlake.platform.airflow import DAGS, Airflow, Run
from fraudlake.platform.context import Context
from fraudlake.topics import CHARGEBACKS, FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS
from tests.factories import payment
from tests.integration.conftest import fraudlake
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


def _refresh(ctx: Context, landed: Landed) -> tuple[Run, str]:
    """One lakehouse_refresh run through Airflow's REST API, scoped to the private Bronze."""
    prefix = f"t{landed.schema.rsplit('_', 1)[1]}_"
    conf = {
        "topics": {topic: kind for kind, topic in landed.topics.items()},
        "bucket": landed.bucket,
        "bronze_schema": landed.schema,
        "schema_prefix": prefix,
    }
    airflow = Airflow(ctx)
    run = airflow.wait_for_run("lakehouse_refresh", airflow.trigger("lakehouse_refresh", conf), timeout=900)
    return run, prefix + "gold"


def _manifest_rows(landed: Landed) -> int:
    table = sql.Identifier(landed.schema, "load_manifest")
    return int(landed.query(sql.SQL("select count(*) from {}").format(table))[0][0])


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
    batches = [
        landed.batch(PAYMENTS.name, 0, 0, [PAYMENT.to_json(p) for p in [*payments, refused]], now),
        landed.batch(PAYMENT_SCORES.name, 0, 0, [DECISION.to_json(d) for d in decisions], now),
        landed.batch(PAYMENT_SCORES.name, 0, 9, [DECISION.to_json(decisions[1])], now),  # a duplicate copy
        landed.batch(FRAUD_ALERTS.name, 0, 0, [ALERT.to_json(a) for a in [*alerts, alerts[0]]], now),
        landed.batch(CHARGEBACKS.name, 0, 0, [CHARGEBACK.to_json(c) for c in chargebacks], now),
    ]
    objects = sum(len(b.objects) for b in batches)

    run, gold = _refresh(ctx, landed)
    assert run.state == "success", run.failures
    assert _manifest_rows(landed) == objects

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

    again, _ = _refresh(ctx, landed)
    assert again.state == "success" and _gold(landed, gold) == expected, "a second run changes nothing"
    assert _manifest_rows(landed) == objects, "nothing loaded twice"

    # the contract accepts it (known severity, score in range), the rules' bands do not
    bad = Decision(
        "p-9", "cus-1", 95, "LOW", True, (), "v1", payments[9].event_time, payments[9].event_time, 1
    )
    landed.batch(PAYMENT_SCORES.name, 0, 10, [DECISION.to_json(bad)], now)
    failed, _ = _refresh(ctx, landed)
    assert failed.state == "failed"
    assert set(failed.failures) == {"build_silver_gold"}
    assert any("test severity_agrees_with_score" in line for line in failed.failures["build_silver_gold"])
    assert _gold(landed, gold) == expected, "Gold keeps its last good state"


def test_dagbag_reads_the_dags_without_errors_or_heavy_imports(ctx: Context) -> None:
    python = Airflow(ctx).venv / "bin" / "python"
    report_script = Path(__file__).with_name("dagbag_report.py")
    done = subprocess.run(
        [str(python), str(report_script), str(DAGS)],
        env=Airflow(ctx).env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["import_errors"] == {}
    assert report["heavy_modules_loaded"] == [], "DAG files import the platform's modules inside tasks"
    dag = report["dags"]["lakehouse_refresh"]
    assert {"fraudlake", "lakehouse"} <= set(dag["tags"])
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
    assert "0:10:00" in dag["schedule"]
    assert "load_bronze" in dag["doc_md"]
    assert dag["tasks"] == {
        "load_bronze": {"retries": 2, "downstream": ["build_silver_gold", "check_freshness"]},
        "build_silver_gold": {"retries": 0, "downstream": []},
        "check_freshness": {"retries": 0, "downstream": []},
    }
    assert dag["outlets"]["build_silver_gold"] == ["fraudlake://gold/"]


def test_cli_refresh_waits_and_reports_the_run(ctx: Context) -> None:
    done = fraudlake("lakehouse", "refresh", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "triggered lakehouse_refresh run manual__" in done.stdout
    assert "success in" in done.stdout
