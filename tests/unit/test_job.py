"""The scoring job's pure parts: parse for the DLQ, the generated SQL, the spec, the watch output."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraudlake.cli.watch import render
from fraudlake.config import SOURCE_ROOTS, Settings
from fraudlake.contract import ALERT, DEAD_LETTER, PAYMENT, SCHEMA_VERSION, Alert, DeadLetter, alert_id_of
from fraudlake.rules import ruleset
from fraudlake.rules.catalog import CATALOG
from fraudlake.rules.sql import fired_columns
from fraudlake_flink import ship
from fraudlake_flink.parse import PARSED_FIELDS, parse_row
from fraudlake_flink.prior import PriorHistory
from fraudlake_flink.spec import JobSpec
from fraudlake_flink.sql import job_sql
from tests.factories import payment

RULES = ruleset.load()
SPEC = JobSpec.from_settings(Settings.from_env({}))


def test_parse_row_gives_payment_fields_or_reason_with_raw_bytes() -> None:
    good = payment(amount=Decimal("12.30"))
    row = parse_row(PAYMENT.to_json(good), None)
    assert len(row) == len(PARSED_FIELDS)
    assert row[:2] == (None, None)
    assert dict(zip(PARSED_FIELDS[2:], row[2:], strict=True)) == {n: getattr(good, n) for n in PAYMENT.names}

    raw = b'{"amount": "x\xff'
    reason, raw_base64, *fields = parse_row(raw, None)
    assert reason.startswith("invalid JSON")
    assert base64.b64decode(raw_base64) == raw
    assert fields == [None] * len(PAYMENT.names)

    late = parse_row(PAYMENT.to_json(good), "late: behind the watermark")
    assert late[:2] == ("late: behind the watermark", base64.b64encode(PAYMENT.to_json(good)).decode())
    assert parse_row(None, None)[0] == "empty record value (tombstone)"


def test_sql_rule_columns_keep_a_fixed_order_whatever_the_file_order() -> None:
    reordered = replace(RULES, rules=dict(reversed(list(RULES.rules.items()))))
    changed = replace(
        reordered,
        rules={**reordered.rules, "VELOCITY": replace(reordered.rules["VELOCITY"], points=45)},
    )
    names = [re.findall(r"AS (\w+)$", item)[0] for item in fired_columns(changed)]
    assert names == [f"{kind}_{rule}" for rule in CATALOG for kind in ("fired", "reason")]


def test_generated_sql_uses_the_spec_and_keeps_the_password_out_of_the_script() -> None:
    spec = replace(
        SPEC,
        name="job-x",
        payments_topic="in-x",
        scores_topic="out-x",
        group_id="grp-x",
        watermark_delay_ms=250,
        context_view="ops.context_x",
    )
    statements = job_sql(spec, RULES, password="s3cret")
    script = job_sql(spec, RULES).script()
    assert "s3cret" in "".join(statements.tables)
    assert "s3cret" not in script
    expected = ("'in-x'", "'out-x'", "'grp-x'", "INTERVAL '0.250' SECOND", "'v1'", "'ops.context_x'")
    for value in (*expected, "h.`job_name` = 'job-x' AND"):
        assert value in script, value
    assert statements.config["table.exec.uid.generation"] == "ALWAYS"
    assert statements.config["pipeline.name"] == "job-x"
    assert "event_time - earlier(event_time, 2) OVER w" in script
    assert "'sink.delivery-guarantee' = 'exactly-once'" in script
    assert script.count("INSERT INTO") == 3


def test_the_shipped_plan_has_one_lookup_and_one_window_and_plan_3_stays_buildable() -> None:
    shipped = job_sql(SPEC, RULES).script()
    assert shipped.count("FOR SYSTEM_TIME AS OF") == 1 and shipped.count(" OVER w") == 5
    assert shipped.count("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW") == 1
    previous = job_sql(replace(SPEC, plan=3), RULES).script()
    assert previous.count("FOR SYSTEM_TIME AS OF") == 2 and "LAG(event_time, 2) OVER w" in previous
    with pytest.raises(ValueError, match="no job plan 4"):
        job_sql(replace(SPEC, plan=4), RULES)


def test_rule_parameters_reach_the_sql() -> None:
    document: dict[str, Any] = {
        "version": "v9",
        "score_cap": 100,
        "alert": {"threshold": 70},
        "severity": {"medium": 50, "high": 90},
        "rules": {
            "VELOCITY": {"points": 33, "min_payments": 5, "window_minutes": 30},
            "UNUSUAL_HOUR": {"points": 10, "from_hour": 22, "to_hour": 5},
        },
    }
    script = job_sql(SPEC, ruleset.parse(document)).script()
    assert "event_time - earlier(event_time, 4) OVER w" in script
    assert "velocity_span_ms <= 1800000" in script
    assert "(local_hour >= 22 OR local_hour < 5)" in script
    assert "CASE WHEN fired_VELOCITY THEN 33 ELSE 0 END" in script
    assert "FIRST_PAYMENT" not in script


def test_spec_round_trips_through_json_and_reads_settings() -> None:
    settings = Settings.from_env(
        {"FRAUDLAKE_JOB_PARALLELISM": "2", "FRAUDLAKE_JOB_ALERTS_DELIVERY": "exactly-once"}
    )
    spec = JobSpec.from_settings(settings)
    assert (spec.parallelism, spec.alerts_delivery) == (2, "exactly-once")
    assert spec.rules_path == str(ruleset.DEFAULT_RULES.resolve())
    assert JobSpec.from_json(spec.to_json()) == spec


def test_alert_and_dead_letter_records_follow_the_contract() -> None:
    alert = Alert(
        payment_id="pay-1",
        customer_id="cus-1",
        score=75,
        severity="MEDIUM",
        is_alert=True,
        reasons=("FIRST_PAYMENT: no earlier successful payment", "UNUSUAL_HOUR: 03h local (UTC)"),
        rules_version="v1",
        event_time=1_790_000_000_000,
        scored_at=1_790_000_000_050,
        schema_version=SCHEMA_VERSION,
        alert_id=alert_id_of("pay-1", "v1"),
        amount=Decimal("42.50"),
        currency="EUR",
        merchant_id="mer-1",
    )
    assert ALERT.parse(ALERT.to_json(alert), now_ms=1_790_000_000_000) == alert
    assert alert.alert_id == alert_id_of("pay-1", "v1") != alert_id_of("pay-1", "v2")
    assert len(alert.alert_id) == 32
    letter = DeadLetter("missing field 'payment_id'", "e30=", "payments", 3, 42, SCHEMA_VERSION)
    assert DEAD_LETTER.parse(DEAD_LETTER.to_json(letter)) == letter
    shown = render("alerts", json.loads(ALERT.to_json(alert)), 0)
    assert shown.splitlines() == [
        "2026-09-21 14:13:20  MEDIUM  75  cus-1  42.5 EUR  alert " + alert.alert_id[:12],
        "    FIRST_PAYMENT: no earlier successful payment",
        "    UNUSUAL_HOUR: 03h local (UTC)",
    ]
    assert render("dlq", {"reason": "bad", "raw_base64": "e30="}, 0) == "1970-01-01 00:00:00  bad\n    {}"


@pytest.mark.parametrize("stream", ["scores", "alerts"])
def test_watch_renders_reasons_under_the_headline(stream: str) -> None:
    record = {
        "event_time": 0,
        "severity": "LOW",
        "score": 0,
        "customer_id": "cus-9",
        "reasons": [],
        "amount": 1,
        "currency": "EUR",
        "alert_id": "a" * 32,
    }
    assert render(stream, record, 0).startswith("1970-01-01 00:00:00  LOW      0  cus-9")


def test_prior_history_summary_says_what_bronze_lacked_and_how_to_load_it() -> None:
    complete = PriorHistory({0: 10, 1: 5}, customers=3, payments=15, behind={0: 0, 1: 0})
    assert complete.summary() == "earlier history from Bronze: 15 payments of 3 customers"
    lagging = replace(complete, payments=12, behind={0: 3, 1: 0})
    assert "Bronze lacks up to 3 earlier payments" in lagging.summary()
    assert "./fraudlake lake load" in lagging.summary()


def test_the_cluster_gets_the_parse_udfs_import_closure_only(tmp_path: Path) -> None:
    shipped = ship.ship(tmp_path)
    files = sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*.py"))
    assert "fraudlake_flink/parse.py" in files and "fraudlake/contract/checks.py" in files
    assert not [f for f in files if f.startswith(("fraudlake/rules", "fraudlake/platform", "fraudlake_lake"))]
    assert "fraudlake_flink/sql.py" not in files and "fraudlake/config.py" not in files
    assert ship.ship(tmp_path) == shipped, "one folder per content"
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import fraudlake_flink.parse"],
        env={"PYTHONPATH": f"{shipped}:{Path(orjson.__file__).parents[1]}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # `flink run` puts the shipped folder first on the client's path too: the full packages still win
    client = subprocess.run(
        [sys.executable, "-c", "import fraudlake.rules.ruleset, fraudlake_flink.sql"],
        env={"PYTHONPATH": ":".join([str(shipped), *map(str, SOURCE_ROOTS)])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert client.returncode == 0, client.stderr


def test_watermark_alignment_is_off_by_default_and_groups_the_jobs_splits_when_set() -> None:
    assert "scan.watermark.alignment" not in job_sql(replace(SPEC, watermark_alignment_ms=0), RULES).script()
    script = job_sql(replace(SPEC, watermark_alignment_ms=10_000), RULES).script()
    assert f"'scan.watermark.alignment.group' = '{SPEC.name}-payments'" in script
    assert "'scan.watermark.alignment.max-drift' = '10000 ms'" in script
