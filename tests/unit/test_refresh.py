"""The lakehouse refresh's pure parts: the run conf it accepts (mistakes named) and dbt's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fraudlake.topics import BRONZE_SCHEMA
from fraudlake_lake import bronze, dbt
from fraudlake_lake.refresh import RefreshError, Scope


def test_no_conf_means_the_platform_topics_bucket_and_schemas() -> None:
    scope = Scope.from_conf(None)
    assert scope.topics == {topic: topic for topic in bronze.RECORDS}
    assert (scope.bucket, scope.bronze_schema, scope.schema_prefix) == (bronze.BUCKET, BRONZE_SCHEMA, "")
    assert scope.dbt_vars() == {
        "bronze_schema": "bronze",
        "schema_prefix": "",
        "reload_lookback_minutes": "15",
    }


def test_conf_narrows_the_scope() -> None:
    scope = Scope.from_conf(
        {"topics": {"t-1": "payments"}, "bucket": "b", "bronze_schema": "s", "schema_prefix": "p_"}
    )
    assert (scope.topics, scope.bucket) == ({"t-1": "payments"}, "b")
    assert scope.dbt_vars()["bronze_schema"] == "s"
    assert scope.dbt_vars()["schema_prefix"] == "p_"


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"bukcet": "b"}, "conf field 'bukcet': unknown"),
        ({"bucket": 3}, "conf field 'bucket': expected str"),
        ({"topics": ["payments"]}, "conf field 'topics': expected dict"),
        ({"topics": {"t-1": "payment"}}, "conf field 'topics': not platform topics: ['payment']"),
    ],
)
def test_a_bad_conf_stops_with_the_field_named(conf: dict[str, object], message: str) -> None:
    with pytest.raises(RefreshError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        Scope.from_conf(conf)


def test_dbt_failures_names_the_failing_and_erroring_nodes(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    results = [
        {"unique_id": "test.fraudlake.severity_agrees_with_score", "status": "fail"},
        {"unique_id": "model.fraudlake.int_payment_facts", "status": "error"},
        {"unique_id": "test.fraudlake.unique_stg_bronze__payments_payment_id.3f2a", "status": "pass"},
        {"unique_id": "model.fraudlake.fraud_kpis_hourly", "status": "skipped"},
    ]
    (tmp_path / "target" / "run_results.json").write_text(json.dumps({"results": results}))
    assert dbt.failures(tmp_path) == ["test severity_agrees_with_score", "model int_payment_facts"]
    assert dbt.failures(tmp_path / "never-ran") == []


def test_dbt_freshness_tells_an_empty_source_from_a_stale_one(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    results = [
        {"unique_id": "source.fraudlake.bronze.payments", "status": "pass", "max_loaded_at": "2026-11-26"},
        {
            "unique_id": "source.fraudlake.bronze.fraud_alerts",
            "status": "error",
            "max_loaded_at": "2026-10-01",
        },
        {
            "unique_id": "source.fraudlake.bronze.payment_scores",
            "status": "error",
            "max_loaded_at": "0001-01-01",
        },
        {
            "unique_id": "source.fraudlake.ops.customer_profiles",
            "status": "warn",
            "max_loaded_at": "2026-11-20",
        },
    ]
    (tmp_path / "target" / "sources.json").write_text(json.dumps({"results": results}))
    assert dbt.freshness(tmp_path) == {
        "bronze.payments": "pass",
        "bronze.fraud_alerts": "error",
        "bronze.payment_scores": "empty",
        "ops.customer_profiles": "warn",
    }
