"""The fault suite (issue 18): one fault at a time on the running platform under steady demo
traffic, nobody running `up`; after each, the checks a user would make end to end.

- Recovery: seconds from the fault (from the end of a planned outage) until every service answers,
  the sink and the demo run, the platform's job and all its tasks are RUNNING, and a payment sent
  after the fault has its decision.
- The topics read whole, read_committed: every payment on `payments` has exactly one decision or
  one dead letter.
- Bronze, once the sink's committed offsets pass what the topic held and lakehouse_refresh has
  loaded it: every offset of `payments` is in Bronze, and no topic's offset landed twice (rows the
  load manifest counts beyond the distinct offsets in Bronze's tables).
- Gold's hourly KPIs equal the same figures recomputed from Bronze's tables by hand.

`benchmarks/fault_suite.py` runs every fault and writes the table; tests/integration/test_faults.py
runs one fault of each kind.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaException, TopicPartition
from psycopg import sql

from fraudlake.platform import process, runner
from fraudlake.platform.airflow import Airflow
from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.postgres import APP_ROLE, Postgres
from fraudlake.platform.supervision import Store
from fraudlake.simulator import demo
from fraudlake.topics import BRONZE_SCHEMA, PAYMENT_SCORES, PAYMENTS, PAYMENTS_DLQ, bronze_table
from fraudlake_flink.control import Jobs
from fraudlake_flink.spec import JOB_NAME
from fraudlake_lake import bronze
from fraudlake_lake import service as sink
from fraudlake_lake.loader import MANIFEST

RECOVERY_TIMEOUT_S = 240
SETTLE_TIMEOUT_S = 240
"""The longest a check waits for decisions, Bronze or Gold to catch up after a recovery."""
REFRESH_TIMEOUT_S = 600
"""A triggered lakehouse_refresh waits for a scheduled one that runs (one run at a time)."""


@dataclass(frozen=True)
class Fault:
    name: str
    unit: str
    """The process (kill) or service (stop, restart) it hits."""
    kind: str
    """`kill` (SIGKILL, the supervisor restarts it), `stop` (stopped with the supervisor told to leave
    it alone for `seconds`, then left to the supervisor) or `restart` (stopped and started again)."""
    seconds: float = 0

    def inject(self, ctx: Context) -> float:
        """Cause the fault; the monotonic time from which recovery counts."""
        if self.kind == "kill":
            pid = _pid(ctx, self.unit)
            if pid is None:
                raise AssertionError(f"{self.unit} is not running before the fault")
            os.kill(pid, signal.SIGKILL)
            while process.alive(pid):
                time.sleep(0.05)
            return time.monotonic()
        service = runner.service_by_name(ctx, self.unit)
        with Store.of(ctx).paused(self.unit):
            service.stop()
            time.sleep(self.seconds)
            if self.kind == "restart":
                service.start()
                service.provision()
        return time.monotonic()


def _daemons(ctx: Context) -> dict[str, Daemon]:
    return {"sink": sink.daemon(ctx), "demo": demo.daemon(ctx)}


def _pid(ctx: Context, proc: str) -> int | None:
    daemons = _daemons(ctx)
    if proc in daemons:
        return daemons[proc].running()
    return {p: pid for s in runner.services(ctx) for p, pid in s.running().items()}.get(proc)


FAULTS = (
    *(Fault(f"kill -9 {proc}", proc, "kill") for s in runner.SERVICES for proc in s.processes),
    *(Fault(f"kill -9 {name}", name, "kill") for name in ("sink", "demo")),
    Fault("stop minio 30 s", "minio", "stop", 30),
    Fault("stop postgres 30 s", "postgres", "stop", 30),
    Fault("restart kafka", "kafka", "restart"),
)


def _consumer(ctx: Context, committed: bool = True) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": Kafka(ctx).bootstrap,
            "group.id": "fraudlake-fault-suite",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
        }
    )


def end_offsets(ctx: Context, topic: str) -> dict[int, tuple[int, int]]:
    """Partition -> (low, high) watermark."""
    consumer = _consumer(ctx)
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30) for p in partitions}
    finally:
        consumer.close()


class Probe:
    """Decisions as they are written (read_uncommitted, from the end at creation): the first one of
    a payment that happened after a given time shows that scoring runs again."""

    def __init__(self, ctx: Context) -> None:
        self.consumer = _consumer(ctx, committed=False)
        ends = end_offsets(ctx, PAYMENT_SCORES.name)
        self.consumer.assign([TopicPartition(PAYMENT_SCORES.name, p, high) for p, (_, high) in ends.items()])

    def scored_since(self, since_ms: int) -> bool:
        for message in self.consumer.consume(1000, timeout=0.5):
            if message.error() is None and orjson.loads(message.value())["event_time"] >= since_ms:
                return True
        return False

    def close(self) -> None:
        self.consumer.close()


def stale_airflow(ctx: Context, since_ms: int) -> str | None:
    """Airflow's components whose latest heartbeat is older than `since_ms`: its health endpoint
    calls a killed scheduler healthy until that heartbeat ages (30 s), so only a heartbeat after the
    fault shows a component that is back."""
    try:
        report = Airflow(ctx).health_report()
    except (OSError, ValueError) as exc:  # the API server itself is not back yet
        return f"airflow: {exc}"
    stale = []
    for part, state in report.items():
        beat = next((v for k, v in state.items() if k.endswith("_heartbeat")), "")
        if beat is None or (beat and datetime.fromisoformat(beat).timestamp() * 1000 < since_ms):
            stale.append(part)
    return f"airflow: no heartbeat since the fault from {', '.join(stale)}" if stale else None


def unhealthy(ctx: Context, jobs: Jobs, since_ms: int = 0) -> str | None:
    """What is not back yet (Airflow's components: with a heartbeat since `since_ms`), or None."""
    for service in runner.services(ctx):
        health = service.health()
        if not health.up:
            return f"{service.name}: {health.detail}"
    if stale := stale_airflow(ctx, since_ms):
        return stale
    for name, daemon in _daemons(ctx).items():
        if daemon.running() is None:
            return f"{name} not running"
    try:
        job = jobs.find(JOB_NAME)
        if job is None:
            return f"{JOB_NAME} not submitted"
        detail = jobs.flink.rest(f"/jobs/{job['jid']}")
    except OSError as exc:
        return f"flink: {exc}"
    if detail["state"] != "RUNNING" or any(v["status"] != "RUNNING" for v in detail["vertices"]):
        return f"{JOB_NAME} {detail['state']}"
    return None


def recover(ctx: Context, jobs: Jobs, probe: Probe, since: float, since_ms: int) -> float:
    """Seconds from `since` until the platform is whole and scoring payments after `since_ms`."""
    fault_ms = int((time.time() - (time.monotonic() - since)) * 1000)
    scored = False
    while True:
        problem = unhealthy(ctx, jobs, fault_ms)
        scored = scored or (problem is None and probe.scored_since(since_ms))
        if problem is None and scored:
            return time.monotonic() - since
        if time.monotonic() - since > RECOVERY_TIMEOUT_S:
            raise AssertionError(
                f"not recovered {RECOVERY_TIMEOUT_S} s after the fault: {problem or 'no decision'}"
            )
        time.sleep(0.5)


@dataclass
class Accounting:
    payments: int = 0
    lost: int = 0
    """Payments with neither a decision nor a dead letter."""
    decisions_doubled: int = 0
    dead_letters_doubled: int = 0


def account(
    payments: dict[tuple[int, int], str | None],
    decisions: Counter[str],
    dead_letters: Counter[tuple[int, int]],
    ends: dict[int, int],
) -> Accounting:
    """Each payment record below `ends` (partition -> offset) against its dead letters and the
    decisions of its payment_id: the records of an id that were not dead-lettered should have one
    decision each (a malformed twin of a payment carries the payment's id and goes to the DLQ), and
    a decision beyond them (of a dead-lettered one, too) is a double."""
    found = Accounting()
    undead: Counter[str] = Counter()
    for (partition, offset), payment_id in payments.items():
        if offset >= ends.get(partition, 0):
            continue
        found.payments += 1
        dead = dead_letters.get((partition, offset), 0)
        found.dead_letters_doubled += dead > 1
        if payment_id is not None:
            undead[payment_id] += dead == 0
        elif dead == 0:
            found.lost += 1
    for payment_id, records in undead.items():
        decided = decisions.get(payment_id, 0)
        found.lost += max(0, records - decided)
        found.decisions_doubled += max(0, decided - records)
    return found


class Ledger:
    """`payments`, `payment-scores` and `payments-dlq` read read_committed from the start, and then
    on from where the last read ended."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.payments: dict[tuple[int, int], str | None] = {}
        """(partition, offset) -> payment_id, None when the record has none to read."""
        self.decisions: Counter[str] = Counter()
        self.dead_letters: Counter[tuple[int, int]] = Counter()
        self.positions: dict[int, int] = {}
        self.readers = {}
        for topic in (PAYMENTS.name, PAYMENT_SCORES.name, PAYMENTS_DLQ.name):
            consumer = _consumer(ctx)
            ends = end_offsets(ctx, topic)
            consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ends.items()])
            self.readers[topic] = consumer

    def read(self) -> None:
        """What was committed since the last read (until a read returns less than a full batch:
        under live traffic there is always a little more)."""
        for topic, consumer in self.readers.items():
            while True:
                messages = consumer.consume(10_000, timeout=1.0)
                for m in messages:
                    if m.error() is None:
                        self._take(topic, m.partition(), m.offset(), m.value() or b"")
                if len(messages) < 10_000:
                    break

    def _take(self, topic: str, partition: int, offset: int, value: bytes) -> None:
        if topic == PAYMENTS.name:
            try:
                payment_id = orjson.loads(value).get("payment_id")
            except (orjson.JSONDecodeError, AttributeError):
                payment_id = None
            self.payments[(partition, offset)] = payment_id if isinstance(payment_id, str) else None
            self.positions[partition] = offset + 1
        elif topic == PAYMENT_SCORES.name:
            # what is not a decision (the Kafka tests' probe records) is no one's decision
            decided = orjson.loads(value).get("payment_id")
            if isinstance(decided, str):
                self.decisions[decided] += 1
        else:
            letter = orjson.loads(value)
            if letter.get("source_topic") == PAYMENTS.name:
                self.dead_letters[(int(letter["source_partition"]), int(letter["source_offset"]))] += 1

    def account(self, ends: dict[int, int]) -> Accounting:
        return account(self.payments, self.decisions, self.dead_letters, ends)

    def settle(self, ends: dict[int, int], timeout: float = SETTLE_TIMEOUT_S) -> tuple[Accounting, float]:
        """The accounting once nothing below `ends` is lost (or at the timeout), with the seconds
        it took."""
        began = time.monotonic()
        while True:
            self.read()
            complete = all(self.positions.get(p, 0) >= end for p, end in ends.items() if end)
            found = self.account(ends)
            if (complete and found.lost == 0) or time.monotonic() - began > timeout:
                return found, time.monotonic() - began
            time.sleep(2)

    def close(self) -> None:
        for consumer in self.readers.values():
            consumer.close()


def sink_passed(ctx: Context, ends: dict[int, int], timeout: float = SETTLE_TIMEOUT_S) -> float:
    """Seconds until the Bronze sink's committed offsets on `payments` reach `ends`."""
    began = time.monotonic()
    consumer = Consumer({"bootstrap.servers": Kafka(ctx).bootstrap, "group.id": ctx.settings.sink_group_id})
    try:
        while True:
            try:
                committed = consumer.committed([TopicPartition(PAYMENTS.name, p) for p in ends], timeout=10)
                if all(tp.offset >= ends[tp.partition] for tp in committed):
                    return time.monotonic() - began
            except KafkaException:  # a broker still coming back: ask again
                pass
            if time.monotonic() - began > timeout:
                raise AssertionError(f"the Bronze sink did not pass {ends} within {timeout} s")
            time.sleep(1)
    finally:
        consumer.close()


RECOMPUTED_KPIS = """
with payments as (
    select distinct on (payment_id) payment_id, event_time, amount
    from {bronze}.payments
    where contract_error is null
    order by payment_id, kafka_timestamp, kafka_partition, kafka_offset
), decisions as (
    select distinct on (payment_id, rules_version) payment_id, rules_version, severity, is_alert
    from {bronze}.payment_scores
    where contract_error is null
    order by payment_id, rules_version, scored_at desc, kafka_partition, kafka_offset
)
select
    date_trunc('hour', p.event_time, 'UTC'), coalesce(d.rules_version, 'undecided'),
    count(*), sum(p.amount),
    count(*) filter (where d.is_alert),
    count(*) filter (where d.is_alert and d.severity = 'HIGH'),
    count(*) filter (where d.is_alert and d.severity = 'MEDIUM'),
    count(*) filter (where d.is_alert and d.severity = 'LOW'),
    coalesce(sum(p.amount) filter (where d.is_alert), 0)
from payments as p left join decisions as d using (payment_id)
group by 1, 2
order by 1, 2
"""
GOLD_KPIS = """
select event_hour, rules_version, payments, amount, alerts, alerts_high, alerts_medium, alerts_low,
    amount_at_risk
from gold.fraud_kpis_hourly
order by 1, 2
"""


@dataclass
class Lakehouse:
    missing_offsets: int
    """Offsets of `payments` below the ends that are not in Bronze."""
    rows_doubled: int
    gold_rows_differing: int
    refresh_s: float


def _bronze_figures(conn: Any, ends: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(offsets of `payments` in [low, end) not in Bronze, rows landed beyond one per offset)."""
    schema = sql.Identifier(BRONZE_SCHEMA)
    missing = 0
    for partition, (low, end) in ends.items():
        row = conn.execute(
            sql.SQL(
                "select count(*) from {}.payments where kafka_topic = %s and kafka_partition = %s "
                "and kafka_offset >= %s and kafka_offset < %s"
            ).format(schema),
            [PAYMENTS.name, partition, low, end],
        ).fetchone()
        missing += (end - low) - row[0]
    doubled = 0
    for topic in bronze.RECORDS:
        table = sql.Identifier(BRONZE_SCHEMA, bronze_table(topic))
        landed = conn.execute(
            sql.SQL(
                "select coalesce(sum(rows), 0) from {} where table_name = %s and starts_with(object_name, %s)"
            ).format(sql.Identifier(BRONZE_SCHEMA, MANIFEST)),
            [bronze_table(topic), f"{topic}/"],
        ).fetchone()[0]
        kept = conn.execute(sql.SQL("select count(*) from {} where kafka_topic = %s").format(table), [topic])
        doubled += int(landed) - int(kept.fetchone()[0])
    return missing, doubled


def _gold_difference(conn: Any) -> int:
    """Rows in one of Gold's hourly KPIs and the recomputation but not the other."""
    gold = set(conn.execute(GOLD_KPIS).fetchall())
    recomputed = set(conn.execute(sql.SQL(RECOMPUTED_KPIS.format(bronze=BRONZE_SCHEMA))).fetchall())
    return len(gold ^ recomputed)


def lakehouse(ctx: Context, ends: dict[int, tuple[int, int]]) -> Lakehouse:
    """A lakehouse_refresh run through Airflow, then Bronze's and Gold's figures. A scheduled run
    that loads between the end of ours and the comparison is waited out: Gold is compared again
    after it (up to SETTLE_TIMEOUT_S)."""
    airflow = Airflow(ctx)
    began = time.monotonic()
    run = airflow.wait_for_run(
        "lakehouse_refresh", airflow.trigger("lakehouse_refresh"), timeout=REFRESH_TIMEOUT_S
    )
    refresh_s = time.monotonic() - began
    if run.state != "success":
        raise AssertionError(f"lakehouse_refresh failed: {run.failures}")
    with Postgres(ctx).connect(APP_ROLE) as conn:
        conn.autocommit = True
        while True:
            missing, doubled = _bronze_figures(conn, ends)
            differing = _gold_difference(conn)
            if differing == 0 or time.monotonic() - began > SETTLE_TIMEOUT_S:
                return Lakehouse(missing, doubled, differing, refresh_s)
            time.sleep(5)


@dataclass
class Outcome:
    fault: str
    recovery_s: float
    payments: int
    payments_lost: int
    decisions_doubled: int
    dead_letters_doubled: int
    bronze_offsets_missing: int
    bronze_rows_doubled: int
    gold_rows_differing: int
    settle_s: float
    """From recovery until the decisions, Bronze and Gold were checked."""

    @property
    def clean(self) -> bool:
        return not any(
            (
                self.payments_lost,
                self.decisions_doubled,
                self.dead_letters_doubled,
                self.bronze_offsets_missing,
                self.bronze_rows_doubled,
                self.gold_rows_differing,
            )
        )


def check(ctx: Context, ledger: Ledger, name: str, recovery_s: float) -> Outcome:
    """The end-to-end checks over everything `payments` held at this moment."""
    began = time.monotonic()
    ends = end_offsets(ctx, PAYMENTS.name)
    highs = {p: high for p, (_, high) in ends.items()}
    accounting, _ = ledger.settle(highs)
    sink_passed(ctx, highs)
    house = lakehouse(ctx, ends)
    return Outcome(
        name,
        round(recovery_s, 1),
        accounting.payments,
        accounting.lost,
        accounting.decisions_doubled,
        accounting.dead_letters_doubled,
        house.missing_offsets,
        house.rows_doubled,
        house.gold_rows_differing,
        round(time.monotonic() - began, 1),
    )


def with_demo(ctx: Context, body: Callable[[], Any]) -> Any:
    """Run `body` with demo traffic (started and supervised if it was not, stopped after)."""
    store = Store.of(ctx)
    if demo.daemon(ctx).running() is not None:
        return body()
    demo.start(ctx, max(ctx.settings.demo_rate, 1))
    store.want("demo")
    try:
        return body()
    finally:
        with store.lifecycle():
            store.unwant("demo")
        demo.daemon(ctx).stop(timeout=30)


def run(ctx: Context, faults: tuple[Fault, ...], report: Callable[[Outcome], None] = print) -> list[Outcome]:
    """A baseline check, then each fault and its checks, in order."""
    jobs = Jobs(ctx)
    ledger = Ledger(ctx)
    try:
        outcomes = [check(ctx, ledger, "none (baseline)", 0.0)]
        report(outcomes[-1])
        for fault in faults:
            # each fault alone: the suite's own faults, back to back, would meet the supervisor's
            # crash-loop limit (5 restarts of a unit in 10 min; Airflow's four components are one
            # unit, and Airflow was left down at the triggerer's kill); test_lifecycle tests the limit
            Store.of(ctx).forgive()
            probe = Probe(ctx)
            try:
                since_ms = int(time.time() * 1000)
                since = fault.inject(ctx)
                recovery_s = recover(ctx, jobs, probe, since, since_ms)
            finally:
                probe.close()
            outcomes.append(check(ctx, ledger, fault.name, recovery_s))
            report(outcomes[-1])
        return outcomes
    finally:
        ledger.close()


COLUMNS = (
    ("fault", "fault"),
    ("recovery_s", "recovery s"),
    ("payments", "payments"),
    ("payments_lost", "lost"),
    ("decisions_doubled", "decisions doubled"),
    ("dead_letters_doubled", "dead letters doubled"),
    ("bronze_offsets_missing", "Bronze offsets missing"),
    ("bronze_rows_doubled", "Bronze rows doubled"),
    ("gold_rows_differing", "Gold rows != recomputed"),
)


def table(outcomes: list[Outcome]) -> str:
    """The outcomes as a Markdown table."""
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for outcome in outcomes:
        values = asdict(outcome)
        cells = [
            f"{values[key]:,}" if isinstance(values[key], int) else str(values[key]) for key, _ in COLUMNS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
