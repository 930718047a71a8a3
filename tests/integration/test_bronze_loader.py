"""Bronze objects into PostgreSQL: each object once, reloads change nothing, a failure rolls back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from psycopg import sql

from fraudlake.contract import PAYMENT, Rejection
from fraudlake.platform.context import Context
from fraudlake.platform.postgres import APP_ROLE, Postgres
from fraudlake.topics import PAYMENTS, bronze_table
from fraudlake_lake import bronze, loader
from tests.factories import payment
from tests.fuzzing import NOW_MS, payment_payloads
from tests.integration.lake_harness import Landed

HOUR = bronze.HOUR_MS


@pytest.fixture
def landed(ctx: Context) -> Iterator[Landed]:
    made = Landed(ctx)
    yield made
    made.drop()


def _rows(landed: Landed) -> list[tuple[int, int, str | None, Decimal | None]]:
    table = sql.Identifier(landed.schema, bronze_table(PAYMENTS.name))
    return landed.query(
        sql.SQL("select kafka_partition, kafka_offset, payment_id, amount from {} order by 1, 2").format(
            table
        )
    )


def test_complete_batches_load_once_and_reloads_change_nothing(landed: Landed) -> None:
    at = int(time.time() * 1000)  # Kafka timestamp and landing time; the payments happened before
    values = [PAYMENT.to_json(payment(payment_id=f"p-{n}", event_time=at - n * HOUR // 2)) for n in range(5)]
    landed.batch(PAYMENTS.name, 0, 0, values[:3], at)
    future = PAYMENT.to_json(payment(payment_id="p-future", event_time=at + 24 * HOUR))
    landed.batch(PAYMENTS.name, 1, 10, [*values[3:], b"{broken", future], at)
    pending = PAYMENT.to_json(payment(payment_id="p-pending", event_time=at))
    landed.batch(PAYMENTS.name, 0, 3, [pending], at, state="pending")

    first = landed.load()
    rows = _rows(landed)
    assert [(p, o, pid) for p, o, pid, _ in rows] == [
        (0, 0, "p-0"),
        (0, 1, "p-1"),
        (0, 2, "p-2"),
        (1, 10, "p-3"),
        (1, 11, "p-4"),
        (1, 12, None),  # the unreadable record is a row too, with its bytes and reason
        (1, 13, "p-future"),
    ], "a pending batch is not loaded"
    errors = landed.query(
        sql.SQL(
            "select kafka_offset, contract_error from {} where contract_error is not null order by 1"
        ).format(sql.Identifier(landed.schema, bronze_table(PAYMENTS.name)))
    )
    assert [offset for offset, _ in errors] == [12, 13]
    assert errors[0][1].startswith("invalid JSON") and "in the future" in errors[1][1], "the contract's words"
    assert rows[0][3] == Decimal("50.00")
    assert first.rows == 7 and first.objects >= 2
    manifest = landed.query(
        sql.SQL("select object_name, etag from {}").format(sql.Identifier(landed.schema, loader.MANIFEST))
    )
    assert len(manifest) == first.objects
    assert all(etag == landed.client.stat_object(landed.bucket, name).etag for name, etag in manifest)

    again = landed.load()
    assert (again.objects, again.rows, again.skipped) == (0, 0, first.objects)
    assert _rows(landed) == rows


def test_fuzzed_payments_load_as_the_contract_reads_them(landed: Landed) -> None:
    """1,000 mutated payments (tests/fuzzing.py) through Bronze into PostgreSQL: every one a row,
    the valid ones with their values, the others with the contract's reason (PostgreSQL refuses
    what the contract lets through, such as NUL or invalid UTF-8, and would stop every load)."""
    payloads: list[bytes] = []

    @settings(
        max_examples=20,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(payment_payloads(), min_size=50, max_size=50))
    def collect(batch: list[bytes]) -> None:
        payloads.extend(batch)

    collect()
    for first in range(0, len(payloads), 250):
        landed.batch(PAYMENTS.name, 0, first, payloads[first : first + 250], NOW_MS)
    assert landed.load().rows == len(payloads) == 1000

    rows = landed.query(
        sql.SQL("select kafka_offset, payment_id, amount, contract_error from {} order by 1").format(
            sql.Identifier(landed.schema, bronze_table(PAYMENTS.name))
        )
    )
    assert [offset for offset, *_ in rows] == list(range(len(payloads)))
    accepted = 0
    for (_, payment_id, amount, error), raw in zip(rows, payloads, strict=True):
        verdict = PAYMENT.parse(raw, now_ms=NOW_MS)
        if isinstance(verdict, Rejection):
            assert error is not None, raw
        else:
            accepted += 1
            assert (payment_id, amount, error) == (verdict.payment_id, verdict.amount, None), raw
    assert 0 < accepted < len(payloads), "both kinds were fuzzed"


def test_a_failing_object_is_rolled_back_with_its_manifest_row(ctx: Context, landed: Landed) -> None:
    at = int(time.time() * 1000)
    good = PAYMENT.to_json(payment(payment_id="p-ok", event_time=at))
    too_big = PAYMENT.to_json(payment(payment_id="p-huge", event_time=at, amount=Decimal("9999999999.99")))
    batch = landed.batch(PAYMENTS.name, 0, 0, [good, too_big], at)
    table = sql.Identifier(landed.schema, bronze_table(PAYMENTS.name))
    with Postgres(ctx).connect(APP_ROLE) as conn:
        loader.ensure_tables(conn, PAYMENTS.name, landed.schema)
        conn.execute(sql.SQL("alter table {} add check (amount < 1000000)").format(table))
        conn.commit()
    with pytest.raises(Exception, match="check constraint"):
        landed.load()
    assert _rows(landed) == [], "nothing of the half-loaded object stays"
    manifest = landed.query(
        sql.SQL("select count(*) from {} where object_name = any(%s)").format(
            sql.Identifier(landed.schema, loader.MANIFEST)
        ),
        (list(batch.objects),),
    )
    assert manifest == [(0,)]


def test_a_load_does_not_wait_for_readers_of_the_bronze_tables(ctx: Context, landed: Landed) -> None:
    at = int(time.time() * 1000)
    landed.batch(PAYMENTS.name, 0, 0, [PAYMENT.to_json(payment(payment_id="p-0", event_time=at))], at)
    landed.load()
    landed.batch(PAYMENTS.name, 0, 1, [PAYMENT.to_json(payment(payment_id="p-1", event_time=at))], at)
    table = sql.Identifier(landed.schema, bronze_table(PAYMENTS.name))
    with Postgres(ctx).connect(APP_ROLE) as reader, ThreadPoolExecutor(1) as pool:
        reader.execute(sql.SQL("select count(*) from {}").format(table))  # holds its lock until rollback
        try:
            loaded = pool.submit(landed.load).result(timeout=30)
        finally:
            reader.rollback()
    assert (loaded.objects, loaded.rows) == (1, 1)
