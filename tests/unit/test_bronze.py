"""Bronze layout and conversion: names, hour placement, rejected records kept whole."""

from __future__ import annotations

from decimal import Decimal

import orjson

from fraudlake.contract import DEAD_LETTER, PAYMENT, DeadLetter, Payment, Rejection
from fraudlake.simulator.generator import SimConfig, Simulation
from fraudlake.topics import PAYMENTS, PAYMENTS_DLQ
from fraudlake_lake import bronze
from fraudlake_lake.bronze import Batch, Message
from tests.factories import payment

HOUR = bronze.HOUR_MS
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def test_object_names_are_a_function_of_topic_partition_offsets_and_hour() -> None:
    assert bronze.object_key("payments", 4, 17, 1203, T0 // HOUR + 13) == (
        "payments/dt=2026-01-01/hour=13/payments-4-00000000000000000017-00000000000000001203.parquet"
    )
    assert bronze.batch_key("payments", 4, 17, 1203) == (
        "_batches/payments/4/00000000000000000017-00000000000000001203.json"
    )


def test_batch_keys_sort_by_first_offset() -> None:
    keys = [bronze.batch_key("t", 0, first, first + 5) for first in (900, 10_000, 5, 77)]
    assert sorted(keys) == [bronze.batch_key("t", 0, f, f + 5) for f in (5, 77, 900, 10_000)]


def test_batch_file_round_trip() -> None:
    batch = Batch("payments", 1, 10, 20, 11, ("a.parquet", "b.parquet"), T0, "complete")
    assert Batch.from_json(batch.to_json()) == batch


def test_rows_go_to_their_event_hour_and_rejects_keep_their_bytes() -> None:
    early = payment(payment_id="p-early", event_time=T0 + 5 * 60_000)
    late = payment(payment_id="p-late", event_time=T0 - 26 * HOUR)
    messages = [
        Message(2, 100, b"cus-1", T0 + HOUR + 1, PAYMENT.to_json(early)),
        Message(2, 101, b"cus-1", T0 + HOUR + 2, b'{"amount": 1.234'),
        Message(2, 102, b"cus-2", T0 + HOUR + 3, PAYMENT.to_json(late)),
        Message(2, 103, None, T0 + HOUR + 4, None),
    ]
    tables = bronze.tables_by_hour(PAYMENTS.name, "payments-copy", messages, ingested_at=T0 + 2 * HOUR)
    assert sorted(tables) == [T0 // HOUR - 26, T0 // HOUR, T0 // HOUR + 1]
    assert tables[T0 // HOUR]["payment_id"].to_pylist() == ["p-early"]
    assert tables[T0 // HOUR]["amount"].to_pylist() == [early.amount]
    assert tables[T0 // HOUR - 26]["payment_id"].to_pylist() == ["p-late"]
    rejected = tables[T0 // HOUR + 1].to_pylist()  # placed by Kafka time: no readable event time
    assert [r["kafka_offset"] for r in rejected] == [101, 103]
    assert rejected[0]["raw_value"] == b'{"amount": 1.234' and rejected[0]["payment_id"] is None
    assert rejected[0]["contract_error"].startswith("invalid JSON")
    assert rejected[1]["contract_error"] == "empty value (tombstone)"
    first = tables[T0 // HOUR].to_pylist()[0]
    assert (first["kafka_topic"], first["kafka_partition"], first["kafka_key"]) == (
        "payments-copy",
        2,
        b"cus-1",
    )
    assert first["contract_error"] is None and first["raw_value"] is None
    assert int(first["ingested_at"].timestamp() * 1000) == T0 + 2 * HOUR


def test_dead_letters_are_placed_by_kafka_time_and_typed() -> None:
    letter = DeadLetter("late: ...", "e30=", "payments", 3, 42, 1)
    tables = bronze.tables_by_hour(
        PAYMENTS_DLQ.name,
        PAYMENTS_DLQ.name,
        [Message(0, 7, b"k", T0 + 3 * HOUR, DEAD_LETTER.to_json(letter))],
        T0,
    )
    ((hour, table),) = tables.items()
    assert hour == T0 // HOUR + 3
    assert table.to_pylist()[0]["source_offset"] == 42
    assert (
        table.schema.field("source_offset").type
        == bronze.schema(PAYMENTS_DLQ.name).field("source_offset").type
    )


def test_parquet_round_trip_is_exact() -> None:
    p = payment(amount=Decimal("1234.50"), event_time=T0)
    (table,) = bronze.tables_by_hour(
        PAYMENTS.name, "payments", [Message(0, 0, b"c", T0, PAYMENT.to_json(p))], T0
    ).values()
    data = bronze.parquet_bytes(table)
    assert bronze.read_parquet(data).equals(table)
    assert bronze.parquet_bytes(table) == data, "same rows, same bytes: a replay rewrites identical objects"


def test_bronze_reads_every_record_the_contract_reads_with_the_same_values() -> None:
    """Bronze types what it can (Arrow's JSON reader): never rejects what the contract reads, never
    reads what is not the contract's types; range/enum/time checks are Silver's (dbt tests)."""
    config = SimConfig(seed=3, events=3000, start_ms=T0, window_ms=6 * HOUR, malformed_rate=0.05)
    items = [
        (PAYMENT.to_json(i.payment), None) if i.payment else (i.malformed, i.malformed_kind)
        for i in Simulation(config).items()
        if i.payment or i.malformed
    ]
    items.insert(
        1234, (PAYMENT.to_json(payment(payment_id="p-pretty", event_time=T0)).replace(b",", b",\n  "), None)
    )
    items.insert(77, (PAYMENT.to_json(payment()) * 2, "invalid_json"))  # two objects in one value
    now = T0 + 24 * HOUR
    messages = [Message(0, n, None, now, value) for n, (value, _) in enumerate(items)]
    tables = bronze.tables_by_hour(PAYMENTS.name, "p", messages, T0).values()
    rows = sorted((r for t in tables for r in t.to_pylist()), key=lambda r: r["kafka_offset"])
    assert [r["kafka_offset"] for r in rows] == list(range(len(items)))
    valid: list[tuple[dict[str, object], Payment]] = []
    for row, (raw, kind) in zip(rows, items, strict=True):
        parsed = PAYMENT.parse_values(raw, now_ms=now)
        if kind in ("invalid_json", "missing_field", "wrong_type"):
            assert isinstance(parsed, Rejection)
            assert (row["contract_error"], row["raw_value"]) == (parsed.reason, raw)
            assert row["payment_id"] is None
            continue
        assert row["contract_error"] is None and row["raw_value"] is None, raw
        if kind is None:
            assert not isinstance(parsed, Rejection)
            valid.append(({k: row[k] for k in PAYMENT.names}, Payment(*parsed)))
        else:  # typed, though the contract refuses its amount, currency or time
            assert row["payment_id"] == orjson.loads(raw)["payment_id"]
    assert [landed for landed, _ in valid] == PAYMENT.to_arrow(p for _, p in valid).to_pylist()
    assert sum(r["contract_error"] is not None for r in rows) > 40


def test_a_required_field_missing_or_null_is_a_reject() -> None:
    good = orjson.loads(PAYMENT.to_json(payment()))
    missing = orjson.dumps({k: v for k, v in good.items() if k != "customer_id"})
    null = orjson.dumps({**good, "amount": None})
    table = bronze.tables_by_hour(
        PAYMENTS.name, "p", [Message(0, 0, None, T0, missing), Message(0, 1, None, T0, null)], T0
    )
    rows = [r for t in table.values() for r in t.to_pylist()]
    assert [r["contract_error"] for r in rows] == [
        "missing field 'customer_id'",
        "field 'amount': must not be null",
    ]
    assert all(r["payment_id"] is None and r["raw_value"] for r in rows)


def test_every_topic_lands_with_its_contract_columns_then_the_kafka_columns() -> None:
    for topic, record in bronze.RECORDS.items():
        fields = bronze.schema(topic)
        assert fields.names == [*record.names, *bronze.KAFKA_COLUMNS], topic
        assert all(fields.field(name).nullable for name in record.names), "a reject has no contract values"
        assert fields.metadata[b"topic"] == topic.encode()
