"""Airflow's lakehouse_refresh on the real platform: Bronze -> PostgreSQL -> dbt silver and gold,
checked against a computation of its own from the same records; a bad batch fails the run on the
named dbt test and Gold keeps its last good state. Also: the DAG as DagBag reads it."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from fraudlake import ops
from fraudlake.contract import (
    ALERT,
    CHARGEBACK,
    DECISION,
    GROUND_TRUTH,
    PAYMENT,
    Alert,
    Chargeback,
    Decision,
    GroundTruth,
    Payment,
    alert_id_of,
)
from fraudlake.platform.airflow import DAGS, Airflow
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.postgres import APP_ROLE, Postgres
from fraudlake.rules import ruleset
from fraudlake.topics import CHARGEBACKS, FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS
from fraudlake.topics import GROUND_TRUTH as GROUND_TRUTH_TOPIC
from fraudlake_lake import bronze
from tests.factories import payment
from tests.integration.conftest import fraudlake
from tests.integration.lake_harness import Landed, refresh

HOUR = bronze.HOUR_MS


RULES = ruleset.load()


def _severity(score: int) -> str:
    return RULES.severity(score)


@pytest.fixture
def other_bands(ctx: Context) -> Iterator[ruleset.RuleSet]:
    """A rules version with other bands (MEDIUM from 20), recorded as a starting job records it."""
    rules = replace(RULES, version=f"t-bands-{time.time_ns()}", medium_from=20, high_from=50)
    with Postgres(ctx).connect(APP_ROLE) as conn:
        conn.execute(ops.record_rules_version(rules))
        conn.commit()
        yield rules
        conn.execute("delete from ops.rules_versions where rules_version = %s", [rules.version])
        conn.commit()


def _manifest_rows(landed: Landed) -> int:
    table = sql.Identifier(landed.schema, "load_manifest")
    return int(landed.query(sql.SQL("select count(*) from {}").format(table))[0][0])


def test_gold_kpis_equal_an_independent_computation_and_a_bad_batch_never_reaches_gold(
    ctx: Context, landed: Landed, other_bands: ruleset.RuleSet
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
    # scored 20 by a version whose bands make that MEDIUM: checked against its own bands, it passes
    decisions[3] = replace(decisions[3], severity=other_bands.severity(20), rules_version=other_bands.version)
    assert decisions[3].severity == "MEDIUM" and not decisions[3].is_alert
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

    run, gold = refresh(ctx, landed)
    assert run.state == "success", run.failures
    assert _manifest_rows(landed) == objects

    version = {d.payment_id: d.rules_version for d in decisions}
    expected = []
    for start, rules in sorted(
        {(p.event_time // HOUR * HOUR, version.get(p.payment_id, "undecided")) for p in payments}
    ):
        group = [
            p
            for p in payments
            if p.event_time // HOUR * HOUR == start and version.get(p.payment_id, "undecided") == rules
        ]
        alerted = [p for p in group if scores.get(p.payment_id, 0) >= 60]
        by = {
            s: sum(_severity(scores[p.payment_id]) == s for p in alerted) for s in ("HIGH", "MEDIUM", "LOW")
        }
        expected.append(
            (
                datetime.fromtimestamp(start / 1000, UTC),
                rules,
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
    assert {e[1] for e in expected} == {"v1", other_bands.version, "undecided"}, "per rules version"
    assert _kpis(landed, gold) == expected

    again, _ = refresh(ctx, landed)
    assert again.state == "success", again.failures
    assert _kpis(landed, gold) == expected, "a second run changes nothing"
    assert _manifest_rows(landed) == objects, "nothing loaded twice"

    # the contract accepts it (known severity, score in range), the rules' bands do not
    bad = Decision(
        "p-9", "cus-1", 95, "LOW", True, (), "v1", payments[9].event_time, payments[9].event_time, 1
    )
    landed.batch(PAYMENT_SCORES.name, 0, 10, [DECISION.to_json(bad)], now)
    failed, _ = refresh(ctx, landed)
    assert failed.state == "failed"
    assert set(failed.failures) == {"build_silver_gold"}
    assert any("test severity_agrees_with_score" in line for line in failed.failures["build_silver_gold"])
    assert _kpis(landed, gold) == expected, "Gold keeps its last good state"


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
    assert str(timedelta(minutes=ctx.settings.lakehouse_interval_minutes)) in dag["schedule"]
    assert "load_bronze" in dag["doc_md"]
    assert dag["tasks"] == {
        "load_bronze": {"retries": 2, "downstream": ["build_silver_gold", "check_freshness"]},
        "build_silver_gold": {"retries": 0, "downstream": []},
        "check_freshness": {"retries": 0, "downstream": []},
    }
    assert dag["outlets"]["build_silver_gold"] == ["fraudlake://gold/"]

    savepoints = report["dags"]["flink_savepoints"]
    assert (savepoints["catchup"], savepoints["max_active_runs"]) == (False, 1)
    assert str(timedelta(minutes=ctx.settings.savepoint_interval_minutes)) in savepoints["schedule"]
    assert savepoints["tasks"] == {
        "take_savepoint": {"retries": 0, "downstream": ["prune"]},
        "prune": {"retries": 0, "downstream": []},
    }
    deploy = report["dags"]["rules_deploy"]
    assert (deploy["schedule"], deploy["max_active_runs"]) == ("None", 1)
    steps = ["validate_rules", "check_compatible", "stop_with_savepoint", "start_new_rules", "health_gate"]
    for step, following in itertools.pairwise(steps):
        assert following in deploy["tasks"][step]["downstream"]
    assert all("record" in deploy["tasks"][step]["downstream"] for step in [*steps, "rollback"])
    assert all("rollback" in deploy["tasks"][step]["downstream"] for step in steps[1:])
    backtest = report["dags"]["rules_backtest"]
    assert (backtest["catchup"], backtest["max_active_runs"]) == (False, 1)
    assert str(timedelta(days=1)) in backtest["schedule"]
    assert backtest["tasks"] == {
        "backtest_live": {"retries": 0, "downstream": ["tune"]},
        "tune": {"retries": 0, "downstream": []},
    }


def test_cli_refresh_waits_and_reports_the_run(ctx: Context) -> None:
    done = fraudlake("lakehouse", "refresh", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "triggered lakehouse_refresh run manual__" in done.stdout
    assert "success in" in done.stdout


def _decision(p: Payment, score: int, reasons: tuple[str, ...]) -> Decision:
    return Decision(
        p.payment_id, p.customer_id, score, _severity(score), score >= 60, reasons, "v1",
        p.event_time, p.event_time + 100, 1,
    )  # fmt: skip


def _kpis(landed: Landed, gold: str) -> list[tuple[Any, ...]]:
    return sorted(_rows(landed, gold, "fraud_kpis_hourly", "event_hour"), key=lambda row: row[:2])


def _rows(landed: Landed, schema: str, table: str, order: str) -> list[tuple[Any, ...]]:
    statement = sql.SQL("select * from {} order by {}").format(
        sql.Identifier(schema, table), sql.Identifier(order)
    )
    return landed.query(statement)


def test_quality_rules_latency_and_risk_in_gold_and_silver_refreshes_only_what_changed(
    ctx: Context, landed: Landed
) -> None:
    day = (int(time.time() * 1000) - 100 * 24 * HOUR) // (24 * HOUR) * (24 * HOUR)  # window closed
    customers = ["c-a", "c-a", "c-b", "c-b", "c-c", "c-c", "c-c", "c-d"]
    payments = [
        payment(payment_id=f"q-{n}", customer_id=c, amount=Decimal(10 + n), event_time=day + n * HOUR)
        for n, c in enumerate(customers)
    ]
    decisions = [
        _decision(payments[0], 85, ("VELOCITY: 3 payments in 2m 0s", "NEW_DEVICE: web fp-x")),  # fraud
        _decision(payments[1], 20, ("NEW_DEVICE: web fp-y",)),  # fraud, missed
        _decision(payments[2], 65, ("GEO_MISMATCH: IP in NG, customer in DE",)),  # legit, alerted
        *(_decision(p, 0, ()) for p in payments[3:]),
    ]
    latency = {"q-0": 1500, "q-2": 4000}
    now = int(time.time() * 1000)
    landed.batch(PAYMENTS.name, 0, 0, [PAYMENT.to_json(p) for p in payments], now)
    landed.batch(PAYMENT_SCORES.name, 0, 0, [DECISION.to_json(d) for d in decisions], now)
    for offset, d in enumerate(d for d in decisions if d.is_alert):
        alert = Alert(
            *(getattr(d, f) for f in DECISION.names), alert_id_of(d.payment_id, "v1"), Decimal(1), "EUR", "m"
        )
        received = d.event_time + latency[d.payment_id]
        landed.batch(FRAUD_ALERTS.name, 0, offset, [ALERT.to_json(alert)], received, ingested_at=now)
    reported = day + 10 * 24 * HOUR
    labels = [
        Chargeback(p, c, Decimal(1), "EUR", "fraudulent", reported, 1)
        for p, c in [("q-0", "c-a"), ("q-1", "c-a")]
    ]
    landed.batch(CHARGEBACKS.name, 0, 0, [CHARGEBACK.to_json(c) for c in labels], now)
    scenarios = ["card_spree", "account_takeover", *["legit"] * 5]  # q-7: no truth (real traffic)
    truth = [
        GroundTruth(p.payment_id, p.customer_id, s != "legit", s, p.event_time, 1)
        for p, s in zip(payments, scenarios, strict=False)
    ]
    landed.batch(GROUND_TRUTH_TOPIC.name, 0, 0, [GROUND_TRUTH.to_json(t) for t in truth], now)

    run, gold = refresh(ctx, landed)
    assert run.state == "success", run.failures
    start = datetime.fromtimestamp(day / 1000, UTC)
    complete = (start + timedelta(days=91)).date()
    assert _rows(landed, gold, "detection_quality_daily", "event_day") == [
        (start, "v1", True, complete, 8, 2, 2, 1, 1, Decimal("0.5000"), Decimal("0.5000"), Decimal("0.1667"))
    ]
    assert _rows(landed, gold, "detection_quality_by_scenario", "scenario") == [
        (start, "v1", "account_takeover", True, 1, 0, Decimal("0.0000"), None, Decimal("11.00")),
        (start, "v1", "card_spree", True, 1, 1, Decimal("1.0000"), None, None),
        (start, "v1", "legit", False, 5, 1, None, Decimal("0.2000"), None),
    ]
    assert _rows(landed, gold, "rule_performance", "rule_id") == [
        ("v1", "GEO_MISMATCH", 1, 1, 0, Decimal("0.0000"), Decimal("0.00")),
        ("v1", "NEW_DEVICE", 2, 1, 2, Decimal("1.0000"), Decimal("4.00")),  # fraud rate 1 vs 2/8
        ("v1", "VELOCITY", 1, 1, 1, Decimal("1.0000"), Decimal("4.00")),
    ]
    assert _rows(landed, gold, "rule_performance_to_date", "rule_id") == [  # truth: 2 frauds of 7
        ("v1", "GEO_MISMATCH", 1, Decimal("0.1250"), 1, 0, Decimal(0), Decimal(0), Decimal("0.00")),
        ("v1", "NEW_DEVICE", 2, Decimal("0.2500"), 1, 2, Decimal(0), Decimal(1), Decimal("3.50")),
        ("v1", "VELOCITY", 1, Decimal("0.1250"), 1, 1, Decimal(0), Decimal(1), Decimal("3.50")),
    ]
    assert _rows(landed, gold, "rule_pairs", "rule_a") == [("v1", "NEW_DEVICE", "VELOCITY", 1)]
    assert _rows(landed, gold, "score_distribution", "score_band") == [
        ("v1", 0, 5, 0, 0, 4),
        ("v1", 20, 1, 0, 1, 0),
        ("v1", 60, 1, 1, 0, 1),
        ("v1", 80, 1, 1, 1, 0),
    ]
    activity = landed.query(
        sql.SQL(
            "select rules_version, severity, country, sum(payments), sum(alerts), sum(amount_at_risk) "
            "from {} group by 1, 2, 3 order by 2"
        ).format(sql.Identifier(gold, "payment_activity_hourly"))
    )
    assert activity == [
        ("v1", "HIGH", "unknown", 1, 1, Decimal("10.00")),
        ("v1", "LOW", "unknown", 6, 0, Decimal("0.00")),
        ("v1", "MEDIUM", "unknown", 1, 1, Decimal("12.00")),
    ]
    hour = timedelta(hours=1)
    assert _rows(landed, gold, "alert_latency_hourly", "event_hour") == [
        (start, "v1", 1, 1500, 1500, 1500, 1500),
        (start + 2 * hour, "v1", 1, 4000, 4000, 4000, 4000),
    ]
    risk = {
        row[:2]: (row[4], row[6], row[7], row[8], row[10])
        for row in _rows(landed, gold, "customer_risk", "customer_id")
    }
    assert risk == {  # payments, alerts, max score, chargebacks, tier
        ("c-a", "v1"): (2, 1, 85, 2, "HIGH"),
        ("c-b", "v1"): (2, 1, 65, 0, "MEDIUM"),
        ("c-c", "v1"): (3, 0, 0, 0, "LOW"),
        ("c-d", "v1"): (1, 0, 0, 0, "LOW"),
    }
    assert _rows(landed, gold, "fraud_kpis_daily", "event_day") == [
        (start, "v1", 8, sum(p.amount for p in payments), 2, 1, 1, 0, Decimal("0.2500"), Decimal("22.00"))
    ]

    silver = gold.removesuffix("gold") + "silver"
    versions = sql.SQL("select payment_id, xmin::text from {} order by 1").format(
        sql.Identifier(silver, "int_payment_facts")
    )
    before = dict(landed.query(versions))
    late_label = Chargeback("q-2", "c-b", Decimal(1), "EUR", "fraudulent", reported, 1)
    landed.batch(CHARGEBACKS.name, 0, 2, [CHARGEBACK.to_json(late_label)], now)
    again, _ = refresh(ctx, landed, reload_lookback_minutes=0)
    assert again.state == "success", again.failures
    after = dict(landed.query(versions))
    assert set(after) == set(before)
    assert [p for p in after if after[p] != before[p]] == ["q-2"], "an incremental run rewrites only q-2"
    assert _rows(landed, gold, "detection_quality_daily", "event_day") == [
        (start, "v1", True, complete, 8, 3, 2, 2, 0, Decimal("0.6667"), Decimal("1.0000"), Decimal("0.0000"))
    ]


def test_dbt_docs_are_one_page_with_every_gold_model(ctx: Context) -> None:
    done = fraudlake("lakehouse", "docs")
    assert done.returncode == 0, done.stdout + done.stderr
    page = Path(done.stdout.split("file://")[1].strip())
    html = page.read_text()
    for model in ("int_payment_facts", "fraud_kpis_daily", "detection_quality_daily", "customer_risk"):
        assert f"model.fraudlake.{model}" in html
    # the columns the database really has (the catalog), each described once in the YAML
    catalog = json.loads((page.parent / "catalog.json").read_text())["nodes"]
    manifest = json.loads((page.parent / "manifest.json").read_text())["nodes"]
    models = [uid for uid in manifest if uid.startswith("model.fraudlake.")]
    assert models and set(models) <= set(catalog), "every model was built and read back"
    for uid in models:
        described = {name for name, column in manifest[uid]["columns"].items() if column["description"]}
        assert set(catalog[uid]["columns"]) == described, uid


def test_stale_bronze_fails_the_freshness_check_but_gold_is_still_published(
    ctx: Context, landed: Landed
) -> None:
    two_days_ago = int(time.time() * 1000) - 48 * HOUR
    landed.batch(PAYMENTS.name, 0, 0, [PAYMENT.to_json(payment(event_time=two_days_ago))], two_days_ago)
    run, gold = refresh(ctx, landed)
    assert run.state == "failed"
    assert set(run.failures) == {"check_freshness"}, "the build ran and published"
    assert any("stale past error_after: bronze.payments" in line for line in run.failures["check_freshness"])
    assert [row[1:3] for row in _rows(landed, gold, "fraud_kpis_daily", "event_day")] == [("undecided", 1)]


def test_triggering_a_paused_dag_is_refused_by_name(ctx: Context) -> None:
    airflow = Airflow(ctx)
    airflow.api("PATCH", "/api/v2/dags/lakehouse_refresh", {"is_paused": True})
    try:
        with pytest.raises(PlatformError, match="lakehouse_refresh is paused"):
            airflow.trigger("lakehouse_refresh")
    finally:
        airflow.api("PATCH", "/api/v2/dags/lakehouse_refresh", {"is_paused": False})
