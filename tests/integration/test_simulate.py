"""`fraudlake simulate` against the real platform: customers in PostgreSQL, keyed events in Kafka."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fraudlake.contract import CHARGEBACK, GROUND_TRUTH, PAYMENT, Payment, Rejection
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.postgres import APP_ROLE, STREAM_ROLE, Postgres
from fraudlake.simulator.generator import SimConfig, Simulation
from fraudlake.simulator.run import Sinks, run
from fraudlake.simulator.sinks import KafkaSink
from fraudlake.topics import CHARGEBACKS, PAYMENTS
from fraudlake.topics import GROUND_TRUTH as GROUND_TRUTH_TOPIC
from tests.integration import kafka_io
from tests.integration.conftest import fraudlake


def _read_since(kafka: Kafka, topic: str, since: dict[int, int]) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of every record after `since`, up to the current end."""
    return [(m.partition(), m.key(), m.value()) for m in kafka_io.read(kafka, topic, since)]


def test_simulate_fills_postgres_kafka_and_files(kafka: Kafka, postgres: Postgres, tmp_path: Path) -> None:
    seed = int(time.time()) % 1_000_000
    before_payments = kafka_io.end_offsets(kafka, PAYMENTS.name)
    before_chargebacks = kafka_io.end_offsets(kafka, CHARGEBACKS.name)
    before_truth = kafka_io.end_offsets(kafka, GROUND_TRUTH_TOPIC.name)
    args = [
        "simulate",
        "--seed",
        str(seed),
        "--events",
        "3000",
        "--duration",
        "60d",
        "--start",
        "2026-01-01",
        "--malformed-rate",
        "0.02",
        "--fraud-rate",
        "0.05",
        "--out",
        str(tmp_path / "payments.parquet"),
        "--truth-out",
        str(tmp_path / "truth.parquet"),
    ]
    done = fraudlake(*args)
    assert done.returncode == 0, done.stdout + done.stderr

    payments, malformed = [], 0
    for partition, key, value in _read_since(kafka, PAYMENTS.name, before_payments):
        parsed = PAYMENT.parse(value)
        if isinstance(parsed, Rejection):
            malformed += 1
            continue
        assert isinstance(parsed, Payment)
        assert key == parsed.customer_id.encode(), "keyed by customer"
        payments.append((partition, parsed))
    assert len(payments) == 3000
    assert 20 <= malformed <= 110
    partitions_by_customer: dict[str, set[int]] = {}
    for partition, payment in payments:
        partitions_by_customer.setdefault(payment.customer_id, set()).add(partition)
    assert all(len(parts) == 1 for parts in partitions_by_customer.values())

    payment_ids = {payment.payment_id for _, payment in payments}
    chargebacks = [
        CHARGEBACK.parse(value) for _, _, value in _read_since(kafka, CHARGEBACKS.name, before_chargebacks)
    ]
    assert chargebacks and all(cb.payment_id in payment_ids for cb in chargebacks)  # type: ignore[union-attr]

    truth = pq.read_table(tmp_path / "truth.parquet").to_pylist()
    assert {row["payment_id"] for row in truth} == payment_ids
    frauds = {row["payment_id"] for row in truth if row["is_fraud"]}
    assert {cb.payment_id for cb in chargebacks} <= frauds  # type: ignore[union-attr]
    truth_topic = [
        (key, GROUND_TRUTH.parse(value))
        for _, key, value in _read_since(kafka, GROUND_TRUTH_TOPIC.name, before_truth)
    ]
    assert sorted(
        (t.payment_id, t.is_fraud, t.scenario)
        for _, t in truth_topic  # type: ignore[union-attr]
    ) == sorted((row["payment_id"], row["is_fraud"], row["scenario"]) for row in truth), (
        "the topic carries the truth file's records"
    )
    assert all(key == t.customer_id.encode() for key, t in truth_topic)  # type: ignore[union-attr]
    assert pq.read_table(tmp_path / "payments.parquet").num_rows == 3000

    expected = len(Simulation(SimConfig(seed=seed, events=3000, fraud_rate=0.05)).all_customers)
    count = "select count(*) from ops.customer_profiles where customer_id like %s"
    pattern = (f"cus-{seed}-%",)
    with postgres.connect(STREAM_ROLE) as conn:
        assert conn.execute(count, pattern).fetchone() == (expected,)
    rerun = fraudlake(*args[:-4], "--no-kafka")
    assert rerun.returncode == 0, rerun.stderr
    with postgres.connect(APP_ROLE) as conn:
        assert conn.execute(count, pattern).fetchone() == (expected,), (
            "same seed: same customers, no duplicates"
        )


def test_realtime_rate_within_five_percent(kafka: Kafka) -> None:
    rate, seconds = 300.0, 10
    now_ms = int(time.time() * 1000) + 200
    config = SimConfig(
        seed=11, events=int(rate * seconds), start_ms=now_ms, window_ms=seconds * 1000, seasonal=False
    )
    stats = run(Simulation(config), Sinks(kafka=KafkaSink(kafka.bootstrap)), realtime=True)
    elapsed = time.time() - now_ms / 1000
    assert stats.payments == rate * seconds
    assert stats.payments / elapsed == pytest.approx(rate, rel=0.05)


def test_undeliverable_records_fail_loudly(kafka: Kafka) -> None:
    sink = KafkaSink(kafka.bootstrap)
    for _ in range(5):
        sink.send("no-such-topic-for-fraudlake", "cus-1", b"{}", 1_790_000_000_000)
    with pytest.raises(RuntimeError, match=r"Kafka delivery failed for 5 records: .*Unknown topic"):
        sink.close()
