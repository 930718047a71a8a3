"""A scoring job of its own per test: private topics and consumer group, submitted like `fraudlake job`."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition
from psycopg import sql

from fraudlake.contract import (
    ALERT,
    DEAD_LETTER,
    DECISION,
    PAYMENT,
    SCHEMA_VERSION,
    Alert,
    CustomerProfile,
    DeadLetter,
    Decision,
    Payment,
)
from fraudlake.ops import DEPLOYMENTS_TABLE, HISTORY_TABLE, JOB_RUNS_TABLE, SAVEPOINTS_TABLE
from fraudlake.platform.context import Context
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.postgres import APP_ROLE, Postgres
from fraudlake.simulator.sinks import write_profiles
from fraudlake.topics import BRONZE_SCHEMA, PAYMENTS, bronze_table
from fraudlake_flink.control import Jobs, Started
from fraudlake_flink.spec import JobSpec
from fraudlake_lake.bronze import KAFKA_COLUMNS
from fraudlake_lake.loader import ensure_tables
from tests.factories import payment
from tests.integration import kafka_io

PARTITIONS = 2
BRONZE = sql.Identifier(BRONZE_SCHEMA, bronze_table(PAYMENTS.name))
FLUSH = b"cus-flush"


@dataclass
class ScoringJob:
    ctx: Context
    spec: JobSpec
    jobs: Jobs

    @classmethod
    def create(cls, ctx: Context, **changes: Any) -> ScoringJob:
        suffix = uuid.uuid4().hex[:8]
        spec = JobSpec.from_settings(
            ctx.settings,
            name=f"test-scoring-{suffix}",
            payments_topic=f"test-payments-{suffix}",
            scores_topic=f"test-scores-{suffix}",
            alerts_topic=f"test-alerts-{suffix}",
            dlq_topic=f"test-dlq-{suffix}",
            group_id=f"test-scoring-{suffix}",
            # No partition may turn idle in a test: a partition idle since the start (30 s by default)
            # that receives payments after another partition's later `advance` record would find the
            # watermark already past them, and they would go to the DLQ as late (seen once in CI, on a
            # loaded machine). `advance` moves every partition instead.
            # 5 s checkpoints: read_committed decisions and dead letters show up sooner than with
            # the default's 20 s (a latency choice, decision 0004), so the tests wait less.
            **{"idle_timeout_ms": 600_000, "checkpoint_interval_ms": 5_000, **changes},
        )
        Kafka(ctx).create_topics(
            {spec.payments_topic: PARTITIONS}
            | dict.fromkeys((spec.scores_topic, spec.alerts_topic, spec.dlq_topic), 1)
        )
        return cls(ctx, spec, Jobs(ctx))

    @property
    def suffix(self) -> str:
        return self.spec.name.rsplit("-", 1)[-1]

    def start(self, rules: Path | None = None, savepoint: str | None = None) -> Started:
        spec = self.spec if rules is None else replace(self.spec, rules_path=str(rules))
        return self.jobs.start(spec, savepoint=savepoint, fresh=savepoint is None)

    def close(self) -> None:
        if self.jobs.find(self.spec.name):
            self.jobs.stop(self.spec.name, savepoint=False)
        registry, storage = self.jobs.registry, self.jobs.storage
        for run in registry.runs(self.spec.name):  # retained checkpoints, then savepoints: then rows
            storage.delete(f"{self.jobs.flink.checkpoint_dir}/{run.job_id}")
        for savepoint in registry.savepoints(self.spec.name):
            if savepoint.path:
                storage.delete(savepoint.path)
        with Postgres(self.ctx).connect(APP_ROLE) as conn:
            for table in (HISTORY_TABLE, JOB_RUNS_TABLE, SAVEPOINTS_TABLE, DEPLOYMENTS_TABLE):
                conn.execute(
                    sql.SQL("delete from {} where job_name = %s").format(sql.Identifier(*table.split("."))),
                    [self.spec.name],
                )
            if conn.execute(
                "select to_regclass(%s)", [f"{BRONZE_SCHEMA}.{bronze_table(PAYMENTS.name)}"]
            ).fetchone() != (None,):
                conn.execute(
                    sql.SQL("delete from {} where kafka_topic = %s").format(BRONZE),
                    [self.spec.payments_topic],
                )
        Kafka(self.ctx).delete_topics(
            self.spec.payments_topic, self.spec.scores_topic, self.spec.alerts_topic, self.spec.dlq_topic
        )

    def profiles(self, profiles: list[CustomerProfile]) -> None:
        with Postgres(self.ctx).connect(APP_ROLE) as conn:
            write_profiles(conn, profiles)

    def send(self, items: Iterable[Payment | tuple[str, bytes]], partition: int | None = None) -> None:
        """Payments as the contract's JSON, or (key, raw bytes) as they are, in this order."""
        records = [
            (item.customer_id, PAYMENT.to_json(item)) if isinstance(item, Payment) else item for item in items
        ]
        kafka_io.produce(
            Kafka(self.ctx), self.spec.payments_topic, [(k.encode(), v) for k, v in records], partition
        )

    def consumed_and_landed(self, payments: list[Payment]) -> None:
        """As if an earlier job had read `payments` and the lakehouse had loaded them: produced to
        the topic, their group offsets committed past them, rows in Bronze at their coordinates."""
        delivered: dict[str, Message] = {}
        producer = Producer({"bootstrap.servers": Kafka(self.ctx).bootstrap, "acks": "all"})
        for p in payments:
            producer.produce(
                self.spec.payments_topic,
                key=p.customer_id.encode(),
                value=PAYMENT.to_json(p),
                on_delivery=lambda _error, message, p=p: delivered.__setitem__(p.payment_id, message),
            )
        assert producer.flush(60) == 0
        coordinates = [(p, delivered[p.payment_id]) for p in payments]
        ends: dict[int, int] = {}
        with Postgres(self.ctx).connect(APP_ROLE) as conn:
            ensure_tables(conn, PAYMENTS.name)
            for p, meta in coordinates:
                now = datetime.now(UTC)
                kafka = (
                    self.spec.payments_topic,
                    meta.partition(),
                    meta.offset(),
                    p.customer_id.encode(),
                    now,
                    now,
                )
                row = asdict(p) | dict(zip(KAFKA_COLUMNS, kafka, strict=False))
                row |= {
                    c.name: datetime.fromtimestamp(row[c.name] / 1000, UTC)
                    for c in PAYMENT.columns
                    if c.timestamp_ms
                }
                conn.execute(
                    sql.SQL("insert into {} ({}) values ({})").format(
                        BRONZE,
                        sql.SQL(", ").join(map(sql.Identifier, row)),
                        sql.SQL(", ").join(sql.Placeholder() * len(row)),
                    ),
                    list(row.values()),
                )
                ends[meta.partition()] = max(ends.get(meta.partition(), 0), meta.offset() + 1)
        consumer = Consumer({"bootstrap.servers": Kafka(self.ctx).bootstrap, "group.id": self.spec.group_id})
        try:
            offsets = [TopicPartition(self.spec.payments_topic, p, o) for p, o in ends.items()]
            consumer.commit(offsets=offsets, asynchronous=False)
        finally:
            consumer.close()

    def advance(self, event_time: int) -> list[Payment]:
        """One payment per partition at `event_time`, so every partition's watermark passes what came
        before (the job emits a decision once the watermark passes its payment). Their own decisions
        wait for a later one, so `read` leaves them out."""
        flush = [
            payment(
                payment_id=f"flush-{self.suffix}-{event_time}-{p}",
                customer_id=f"{FLUSH.decode()}-{self.suffix}-{p}",
                event_time=event_time,
            )
            for p in range(PARTITIONS)
        ]
        for number, record in enumerate(flush):
            self.send([record], partition=number)
        return flush

    def read(self, topic: str, expected: int, timeout: float = 120) -> list[tuple[bytes, bytes]]:
        """(key, value) of the committed records of `topic` that are not about `advance`'s payments,
        once `expected` are there (or the timeout)."""
        consumer = Consumer(
            {
                "bootstrap.servers": Kafka(self.ctx).bootstrap,
                "group.id": f"test-read-{self.suffix}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: list[tuple[bytes, bytes]] = []

        def take(wait_s: float) -> int:
            batch = [m for m in consumer.consume(num_messages=10_000, timeout=wait_s) if m.error() is None]
            records.extend((m.key(), m.value()) for m in batch if not m.key().startswith(FLUSH))
            return len(batch)

        deadline = time.monotonic() + timeout
        try:
            while len(records) < expected and time.monotonic() < deadline:
                take(1.0)
            while take(2.0):  # any beyond
                pass
        finally:
            consumer.close()
        return records

    def decisions(self, expected: int, timeout: float = 120) -> list[Decision]:
        """The job's decisions, each keyed by its customer and valid by the contract."""
        result = []
        for key, value in self.read(self.spec.scores_topic, expected, timeout):
            decision = DECISION.parse(value)
            assert isinstance(decision, Decision), decision
            assert key == decision.customer_id.encode()
            result.append(decision)
        return result

    def alerts(self, expected: int, timeout: float = 120) -> list[Alert]:
        result = []
        for key, value in self.read(self.spec.alerts_topic, expected, timeout):
            alert = ALERT.parse(value)
            assert isinstance(alert, Alert), alert
            assert key == alert.customer_id.encode()
            result.append(alert)
        return result

    def dead_letters(self, expected: int) -> list[tuple[DeadLetter, bytes]]:
        """Each dead letter with the raw bytes it carries."""
        result = []
        for _, value in self.read(self.spec.dlq_topic, expected):
            letter = DEAD_LETTER.parse(value)
            assert isinstance(letter, DeadLetter), letter
            result.append((letter, base64.b64decode(letter.raw_base64)))
        return result


class Traffic:
    """Payments at real time on the job's topic from a background thread, as a shop would send them;
    some of them malformed, so that the dead-letter path runs too."""

    def __init__(self, job: ScoringJob, rate: int = 40, customers: int = 60) -> None:
        self.job = job
        self.rate = rate
        self.customers = [f"cus-traffic-{job.suffix}-{n}" for n in range(customers)]
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        now = int(time.time() * 1000)
        self.job.profiles(
            [
                CustomerProfile(c, "DE", "Europe/Berlin", now - 400 * 86_400_000, "web.de", SCHEMA_VERSION)
                for c in self.customers
            ]
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        producer = Producer(
            {"bootstrap.servers": Kafka(self.job.ctx).bootstrap, "acks": "all", "linger.ms": 5}
        )
        try:
            while not self._stop.is_set():
                n = self.sent
                customer = self.customers[n % len(self.customers)]
                if n % 97 == 13:
                    key, value = customer.encode(), b'{"payment_id": "broken-' + str(n).encode() + b'"'
                else:
                    record = payment(
                        payment_id=f"pay-traffic-{self.job.suffix}-{n}",
                        order_id=f"ord-traffic-{n}",
                        customer_id=customer,
                        amount=Decimal(10 + n % 190),
                        event_time=int(time.time() * 1000),
                    )
                    key, value = customer.encode(), PAYMENT.to_json(record)
                producer.produce(self.job.spec.payments_topic, key=key, value=value)
                producer.poll(0)
                self.sent += 1
                self._stop.wait(1 / self.rate)
        finally:
            producer.flush(60)


@dataclass(frozen=True)
class Ledger:
    """The job's topics read whole, read_committed: what a user checks after a fault."""

    payments: dict[tuple[int, int], str]
    """(partition, offset) of each payment record -> its payment_id (or `raw:<offset>` if unreadable)."""
    decisions: Counter[str]
    dead_letters: Counter[tuple[int, int]]
    alerts: dict[str, set[str]]
    """payment_id -> its distinct alert ids (Silver dedupes by alert_id)."""
    alerted: set[str]
    """Payments whose decision is an alert."""
    rules_versions: Counter[str]
    first_payments: Counter[str]
    """Per rules version, decisions that found no earlier payment of their customer (FIRST_PAYMENT):
    state carried across a restart leaves exactly one per customer in all."""

    def unaccounted(self) -> list[str]:
        """Payments with neither exactly one decision nor exactly one dead letter."""
        wrong = []
        for coordinates, payment_id in self.payments.items():
            decided, dead = self.decisions.get(payment_id, 0), self.dead_letters.get(coordinates, 0)
            if (decided, dead) not in {(1, 0), (0, 1)}:
                wrong.append(f"{payment_id} at {coordinates}: {decided} decisions, {dead} dead letters")
        return wrong


def ledger(job: ScoringJob, timeout: float = 180) -> Ledger:
    """Once every payment (but `advance`'s) is decided or dead-lettered, or at the timeout."""

    def whole(topic: str) -> list[tuple[int, int, bytes, bytes]]:
        consumer = Consumer(
            {
                "bootstrap.servers": Kafka(job.ctx).bootstrap,
                "group.id": f"ledger-{uuid.uuid4().hex[:8]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            }
        )
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
            records: list[tuple[int, int, bytes, bytes]] = []
            quiet = 0  # an open transaction holds read_committed readers below the high watermark
            while quiet < 3:
                batch = [m for m in consumer.consume(1000, timeout=1) if not m.error()]
                quiet = 0 if batch else quiet + 1
                records += [(m.partition(), m.offset(), m.key() or b"", m.value() or b"") for m in batch]
            return records
        finally:
            consumer.close()

    deadline = time.monotonic() + timeout
    while True:
        payments = {}
        for partition, offset, key, value in whole(job.spec.payments_topic):
            if key.startswith(FLUSH):
                continue
            try:
                payments[(partition, offset)] = str(orjson.loads(value)["payment_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                payments[(partition, offset)] = f"raw:{partition}:{offset}"
        decisions = [
            DECISION.parse(v) for _, _, k, v in whole(job.spec.scores_topic) if not k.startswith(FLUSH)
        ]
        letters = [DEAD_LETTER.parse(v) for _, _, _, v in whole(job.spec.dlq_topic)]
        alerts = [ALERT.parse(v) for _, _, k, v in whole(job.spec.alerts_topic) if not k.startswith(FLUSH)]
        found = Ledger(
            payments=payments,
            decisions=Counter(d.payment_id for d in decisions if isinstance(d, Decision)),
            dead_letters=Counter(
                (int(d.source_partition), int(d.source_offset)) for d in letters if isinstance(d, DeadLetter)
            ),
            alerts={},
            alerted={d.payment_id for d in decisions if isinstance(d, Decision) and d.is_alert},
            rules_versions=Counter(d.rules_version for d in decisions if isinstance(d, Decision)),
            first_payments=Counter(
                d.rules_version
                for d in decisions
                if isinstance(d, Decision) and any(r.startswith("FIRST_PAYMENT") for r in d.reasons)
            ),
        )
        for alert in alerts:
            assert isinstance(alert, Alert), alert
            found.alerts.setdefault(alert.payment_id, set()).add(alert.alert_id)
        if not found.unaccounted() or time.monotonic() > deadline:
            return found
        time.sleep(3)
