"""The Bronze sink on real Kafka and MinIO: every record once, across crashes and a MinIO outage.

Each test lands its own topics into its own bucket with its own consumer group, so the platform's
own sink (started by `up`) and other tests never meet its data.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from fraudlake.contract import PAYMENT, Payment
from fraudlake.platform.context import Context
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.minio import Minio, read_object
from fraudlake.platform.supervision import Store
from fraudlake.simulator.generator import SimConfig, Simulation
from fraudlake.topics import PAYMENTS
from fraudlake_lake import bronze
from fraudlake_lake.sink import BronzeSink, SinkError
from fraudlake_lake.stats import lake_stats
from tests.integration.conftest import ROOT

DAY_MS = 86_400_000


@dataclass
class Lake:
    ctx: Context
    topic: str
    partitions: int
    bucket: str = field(default_factory=lambda: f"test-bronze-{uuid.uuid4().hex[:8]}")
    group: str = field(default_factory=lambda: f"test-sink-{uuid.uuid4().hex[:8]}")
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        Kafka(self.ctx).create_topics({self.topic: self.partitions})
        Minio(self.ctx).client().make_bucket(self.bucket)

    @property
    def bootstrap(self) -> str:
        return self.ctx.settings.kafka_bootstrap

    def send(self, records: list[tuple[str, bytes, int]]) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True})
        for key, value, timestamp in records:
            producer.produce(self.topic, value=value, key=key.encode(), timestamp=timestamp)
            self.sent.append((key, value))
        assert producer.flush(30) == 0

    def sink(self, **options: Any) -> BronzeSink:
        return BronzeSink(
            self.ctx,
            {self.topic: PAYMENTS.name},
            bucket=self.bucket,
            group_id=self.group,
            flush_rows=options.get("flush_rows", 1000),
            flush_seconds=options.get("flush_seconds", 1),
            crash_at=options.get("crash_at", ""),
            minio=Minio(self.ctx).client(),  # a private bucket, beyond the sink user's `bronze`
        )

    def crash(self, point: str, flush_rows: int) -> subprocess.CompletedProcess[str]:
        """Run a sink in its own process until it kills itself (kill -9) at `point`."""
        script = (
            "from fraudlake.config import Settings\n"
            "from fraudlake.platform.context import Context\n"
            "from fraudlake.platform.minio import Minio\n"
            "from fraudlake_lake.sink import BronzeSink\n"
            "ctx = Context(Settings.from_env())\n"
            f"BronzeSink(ctx, {{{self.topic!r}: 'payments'}},"
            f" bucket={self.bucket!r}, group_id={self.group!r}, flush_rows={flush_rows},"
            f" flush_seconds=600, crash_at={point!r}, minio=Minio(ctx).client()).run()\n"
        )
        return subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
            timeout=300,
            check=False,
        )

    def objects(self) -> dict[str, bytes]:
        client = Minio(self.ctx).client()
        names = [
            o.object_name for o in client.list_objects(self.bucket, prefix=f"{self.topic}/", recursive=True)
        ]
        return {name: read_object(client, self.bucket, name) for name in names}

    def rows(self) -> pa.Table:
        tables = [bronze.read_parquet(data) for data in self.objects().values()]
        return pa.concat_tables(tables) if tables else bronze.schema(PAYMENTS.name).empty_table()

    def committed(self) -> list[int]:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group})
        try:
            partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            return [tp.offset for tp in consumer.committed(partitions, timeout=10)]
        finally:
            consumer.close()

    def stats(self) -> dict[str, Any]:
        report: dict[str, Any] = lake_stats(
            self.ctx, (self.topic,), bucket=self.bucket, client=Minio(self.ctx).client()
        )[self.topic]
        return report


@contextlib.contextmanager
def running(sink: BronzeSink) -> Iterator[BronzeSink]:
    """The sink in a thread; on exit it is stopped as SIGTERM stops it (flush, commit)."""
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.stopping.set()
        thread.join(timeout=120)
        assert not thread.is_alive(), "the sink stops when asked"


def wait_for_rows(lake: Lake, expected: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lake.stats()["bronze_rows"] >= expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"Bronze has {lake.stats()['bronze_rows']} of {expected} rows after {timeout}s")


def payments(count: int, start_ms: int, hours: int, seed: int = 7) -> list[tuple[str, bytes, int]]:
    """Simulated payments over `hours` of event time, as (key, value, Kafka timestamp = event time)."""
    config = SimConfig(seed=seed, events=count, start_ms=start_ms, window_ms=hours * 3_600_000)
    return [
        (item.payment.customer_id, PAYMENT.to_json(item.payment), item.payment.event_time)
        for item in Simulation(config).items()
        if item.payment is not None
    ]


def assert_exactly_once(lake: Lake, table: pa.Table) -> None:
    """Every record sent is one row, each (partition, offset) once."""
    coordinates = list(
        zip(table["kafka_partition"].to_pylist(), table["kafka_offset"].to_pylist(), strict=True)
    )
    assert len(coordinates) == len(set(coordinates)), "no (partition, offset) twice"
    assert table.num_rows == len(lake.sent)
    landed = sorted(
        (key, value if value is not None else raw)
        for key, value, raw in zip(
            (k.decode() for k in table["kafka_key"].to_pylist()),
            (PAYMENT.to_json(p) if p is not None else None for p in _payments(table)),
            table["raw_value"].to_pylist(),
            strict=True,
        )
    )
    assert landed == sorted(lake.sent)


def _payments(table: pa.Table) -> list[Payment | None]:
    contract = table.select(list(PAYMENT.names))
    valid = [error is None for error in table["contract_error"].to_pylist()]
    records = iter(PAYMENT.from_arrow(contract.filter(pa.array(valid))))
    return [next(records) if ok else None for ok in valid]


@pytest.fixture
def lake(ctx: Context) -> Iterator[Lake]:
    created = Lake(ctx, f"test-bronze-payments-{uuid.uuid4().hex[:8]}", partitions=3)
    yield created
    Kafka(ctx).delete_topics(created.topic)


def test_every_record_lands_once_typed_and_placed_by_event_time(lake: Lake) -> None:
    now = int(time.time() * 1000)
    start = (now - 2 * DAY_MS) // 3_600_000 * 3_600_000
    records = payments(3000, start, hours=5)
    late = payments(3, start - DAY_MS, hours=1, seed=8)  # a day behind the others, sent last
    malformed = [("cus-bad", b'{"payment_id": "p-1", "amount": ', now), ("cus-bad", b"[1, 2]", now)]
    lake.send(records + malformed + late)
    with running(lake.sink(flush_rows=700)):
        wait_for_rows(lake, len(lake.sent))

    table = lake.rows()
    assert table.schema.remove_metadata() == bronze.schema(PAYMENTS.name).remove_metadata()
    assert_exactly_once(lake, table)
    errors = [e for e in table["contract_error"].to_pylist() if e is not None]
    assert len(errors) == 2 and all(e.startswith(("invalid JSON", "expected a JSON object")) for e in errors)

    for name, data in lake.objects().items():
        part = bronze.read_parquet(data)
        times = [
            int(t.timestamp() * 1000) if t is not None else int(k.timestamp() * 1000)
            for t, k in zip(part["event_time"].to_pylist(), part["kafka_timestamp"].to_pylist(), strict=True)
        ]
        hours = {datetime.fromtimestamp(t / 1000, UTC).strftime("dt=%Y-%m-%d/hour=%H") for t in times}
        assert hours == {name.split("/", 1)[1].rsplit("/", 1)[0]}, name
    late_hour = datetime.fromtimestamp(late[0][2] / 1000, UTC).strftime("dt=%Y-%m-%d/hour=%H")
    assert any(f"/{late_hour}/" in name for name in lake.objects()), "late payments get their own hour"

    stats = lake.stats()
    assert stats["bronze_rows"] == len(lake.sent)
    assert stats["offsets_not_in_bronze"] == 0
    assert sum(lake.committed()) == len(lake.sent), "offsets committed after the objects"


@pytest.mark.parametrize("point", ["before-upload", "mid-upload", "after-upload"])
def test_kill_9_mid_batch_then_restart_still_exactly_once(lake: Lake, point: str) -> None:
    start = (int(time.time() * 1000) - DAY_MS) // 3_600_000 * 3_600_000
    lake.send(payments(1500, start, hours=3))  # every batch spans several event hours

    crashed = lake.crash(point, flush_rows=400)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert f"crashing at {point}" in crashed.stderr
    assert lake.committed() == [-1001] * lake.partitions, "nothing committed before the crash"
    left = sorted(lake.objects())
    if point == "before-upload":
        assert left == []
    else:
        assert left, "objects of the interrupted batch are in MinIO"

    # other batch sizes after the restart: only the redo of the interrupted batch avoids overlaps
    with running(lake.sink(flush_rows=250)):
        wait_for_rows(lake, len(lake.sent))
    assert_exactly_once(lake, lake.rows())
    assert set(left) <= set(lake.objects()), "the redone batch rewrote the same objects"
    assert lake.stats()["offsets_not_in_bronze"] == 0


def test_minio_down_for_30s_loses_nothing(ctx: Context, lake: Lake) -> None:
    start = (int(time.time() * 1000) - DAY_MS) // 3_600_000 * 3_600_000
    first, second = payments(1000, start, hours=1), payments(1000, start + 3_600_000, hours=1, seed=9)
    minio = Minio(ctx)
    with running(lake.sink(flush_rows=300)):
        lake.send(first)
        wait_for_rows(lake, len(first))
        with Store.of(ctx).paused("minio"):  # a planned outage: the supervisor lets it be
            minio.stop()
            try:
                lake.send(second)
                time.sleep(30)
                assert minio.running()["minio"] is None
            finally:
                minio.start()
        wait_for_rows(lake, len(lake.sent))
    assert_exactly_once(lake, lake.rows())
    assert lake.stats()["offsets_not_in_bronze"] == 0


def test_a_batch_to_redo_whose_records_retention_deleted_stops_the_sink_naming_them(lake: Lake) -> None:
    start = (int(time.time() * 1000) - DAY_MS) // 3_600_000 * 3_600_000
    lake.send(payments(600, start, hours=1))
    crashed = lake.crash("mid-upload", flush_rows=100)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    admin = Kafka(lake.ctx).admin()
    consumer = Consumer({"bootstrap.servers": lake.bootstrap, "group.id": lake.group})
    ends = [
        consumer.get_watermark_offsets(TopicPartition(lake.topic, p), timeout=10)[1]
        for p in range(lake.partitions)
    ]
    consumer.close()
    deleted = admin.delete_records([TopicPartition(lake.topic, p, end) for p, end in enumerate(ends)])
    for future in deleted.values():
        future.result(timeout=30)

    with pytest.raises(SinkError, match=r"retention deleted everything below \d+: those records are lost"):
        lake.sink().run()
    assert lake.committed() == [-1001] * lake.partitions, "nothing committed past what is durable"
