"""Bronze objects into PostgreSQL: each object once, reloads change nothing, a failure rolls back."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from psycopg import sql

from fraudlake.contract import PAYMENT
from fraudlake.lake import bronze, loader
from fraudlake.lake.bronze import Batch, Message
from fraudlake.platform.context import Context
from fraudlake.platform.minio import Minio
from fraudlake.platform.postgres import APP_ROLE, Postgres
from fraudlake.topics import PAYMENTS
from tests.factories import payment

HOUR = bronze.HOUR_MS


class Landed:
    """A private topic name and bucket with batches written as the sink writes them."""

    def __init__(self, ctx: Context) -> None:
        self.topic = f"test-load-{uuid.uuid4().hex[:8]}"
        self.bucket = f"test-load-{uuid.uuid4().hex[:8]}"
        self.client = Minio(ctx).client()
        self.client.make_bucket(self.bucket)

    def batch(
        self, partition: int, first: int, payments: list[bytes], at: int, state: str = "complete"
    ) -> Batch:
        messages = [Message(partition, first + n, b"k", at, value) for n, value in enumerate(payments)]
        tables = bronze.tables_by_hour(PAYMENTS.name, self.topic, messages, at)
        last = messages[-1].offset
        names = {bronze.object_key(self.topic, partition, first, last, h): t for h, t in tables.items()}
        batch = Batch(self.topic, partition, first, last, len(messages), tuple(names), at, state)
        for name, table in names.items():
            self.put(name, bronze.parquet_bytes(table))
        self.put(batch.key, batch.to_json())
        return batch

    def put(self, name: str, data: bytes) -> None:
        self.client.put_object(self.bucket, name, io.BytesIO(data), len(data))

    def load(self, ctx: Context) -> loader.Loaded:
        with Postgres(ctx).connect(APP_ROLE) as conn:
            conn.autocommit = True
            return loader.load_new(conn, self.client, {self.topic: PAYMENTS.name}, bucket=self.bucket)

    def rows(self, ctx: Context) -> list[tuple[int, int, str | None, Decimal | None]]:
        table = sql.Identifier(loader.SCHEMA, loader.table_name(self.topic))
        with Postgres(ctx).connect(APP_ROLE) as conn:
            return conn.execute(
                sql.SQL(
                    "select kafka_partition, kafka_offset, payment_id, amount from {} order by 1, 2"
                ).format(table)
            ).fetchall()


@pytest.fixture
def landed(ctx: Context) -> Iterator[Landed]:
    yield Landed(ctx)


def test_complete_batches_load_once_and_reloads_change_nothing(ctx: Context, landed: Landed) -> None:
    at = int(time.time() * 1000) - 3 * HOUR
    values = [PAYMENT.to_json(payment(payment_id=f"p-{n}", event_time=at + n * HOUR // 2)) for n in range(5)]
    landed.batch(0, 0, values[:3], at)
    landed.batch(1, 10, [*values[3:], b"{broken"], at)
    landed.batch(0, 3, [PAYMENT.to_json(payment(payment_id="p-pending", event_time=at))], at, state="pending")

    first = landed.load(ctx)
    rows = landed.rows(ctx)
    assert [(p, o, pid) for p, o, pid, _ in rows] == [
        (0, 0, "p-0"),
        (0, 1, "p-1"),
        (0, 2, "p-2"),
        (1, 10, "p-3"),
        (1, 11, "p-4"),
        (1, 12, None),  # the unreadable record is a row too, with its bytes and reason
    ], "a pending batch is not loaded"
    assert rows[0][3] == Decimal("50.00")
    assert first.rows == 6 and first.objects >= 2

    again = landed.load(ctx)
    assert (again.objects, again.rows, again.skipped) == (0, 0, first.objects)
    assert landed.rows(ctx) == rows


def test_a_failing_object_is_rolled_back_with_its_manifest_row(ctx: Context, landed: Landed) -> None:
    at = int(time.time() * 1000) - HOUR
    good = PAYMENT.to_json(payment(payment_id="p-ok", event_time=at))
    too_big = PAYMENT.to_json(payment(payment_id="p-huge", event_time=at, amount=Decimal("9999999999.99")))
    batch = landed.batch(0, 0, [good, too_big], at)
    table = sql.Identifier(loader.SCHEMA, loader.table_name(landed.topic))
    with Postgres(ctx).connect(APP_ROLE) as conn:
        for statement in loader.ddl(landed.topic, PAYMENTS.name):
            conn.execute(statement)
        conn.execute(sql.SQL("alter table {} add check (amount < 1000000)").format(table))
        conn.commit()
    with pytest.raises(Exception, match="check constraint"):
        landed.load(ctx)
    assert landed.rows(ctx) == [], "nothing of the half-loaded object stays"
    with Postgres(ctx).connect(APP_ROLE) as conn:
        manifest = conn.execute(
            sql.SQL("select count(*) from {} where object_name = any(%s)").format(
                sql.Identifier(loader.SCHEMA, loader.MANIFEST)
            ),
            (list(batch.objects),),
        ).fetchone()
    assert manifest == (0,)
