"""Customer history from before a scoring job's first offsets: from Bronze into ops.customer_history.

A job that starts without state (first start, `--fresh` after a plan change) would treat every
customer as new: first payments, unseen devices, no average amount. Its history is in the
lakehouse, though: Bronze holds every payment the topic carried, with its Kafka coordinates. So
before such a start, the payments at offsets below the ones the job will read first (its consumer
group's committed offsets, else the partition's earliest) are summed per customer and device into
`ops.customer_history`, once; the job looks each customer up there at its first payment (a cached
lookup, never a query per event) and keeps the values in its state. A job resumed from a
savepoint keeps its own state and leaves the table alone.

What Bronze cannot say: the job dead-letters a payment that arrives later than its out-of-order
bound and does not count it; Bronze counts every payment the contract accepts. And Bronze is only
as complete as the last lakehouse load: `behind` says how many offsets below the start are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

from fraudlake import retry
from fraudlake.ops import HISTORY_TABLE
from fraudlake.topics import BRONZE_SCHEMA, PAYMENTS, bronze_table


@dataclass(frozen=True)
class PriorHistory:
    """What a job's start found in Bronze."""

    start_offsets: dict[int, int]
    customers: int
    payments: int
    behind: dict[int, int]
    """Per partition, offsets below the start that Bronze has not loaded (0 when complete)."""

    def summary(self) -> str:
        text = f"earlier history from Bronze: {self.payments:,} payments of {self.customers:,} customers"
        missing = sum(self.behind.values())
        if missing:
            text += (
                f"; Bronze lacks up to {missing:,} earlier payments (load them first: "
                "./fraudlake lake load, then job start --fresh)"
            )
        return text


def start_offsets(bootstrap: str, topic: str, group_id: str, patience_s: float = 60) -> dict[int, int]:
    """Per partition, the first offset the job will read: the group's committed offset, else the
    earliest (the job's source starts from group offsets, resetting to earliest). A broker that has
    just started has no group coordinator yet for a while (NOT_COORDINATOR), and a topic just
    created has no partition leader yet (NOT_LEADER_FOR_PARTITION): both retried."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})

    def offsets() -> dict[int, int]:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in sorted(partitions)], timeout=30)
        found = {}
        for tp in committed:
            low, _ = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=30)
            found[tp.partition] = tp.offset if tp.offset >= 0 else low
        return found

    try:
        return retry.call("the group's offsets", offsets, retry.kafka_transient, patience_s)
    finally:
        consumer.close()


def rebuild(conn: Connection[Any], job_name: str, topic: str, offsets: dict[int, int]) -> PriorHistory:
    """Replace the job's rows of ops.customer_history with Bronze's payments of `topic` below
    `offsets`, in one transaction."""
    bronze = sql.Identifier(BRONZE_SCHEMA, bronze_table(PAYMENTS.name))
    target = sql.Identifier(*HISTORY_TABLE.split("."))
    with conn.transaction():
        conn.execute(sql.SQL("delete from {} where job_name = %s").format(target), [job_name])
        exists = conn.execute(
            "select to_regclass(%s) is not null", [f"{BRONZE_SCHEMA}.{bronze_table(PAYMENTS.name)}"]
        )
        if not exists.fetchone()[0] or not offsets:  # type: ignore[index]
            return PriorHistory(offsets, 0, 0, dict.fromkeys(offsets, 0))
        starts = sql.SQL(", ").join(sql.SQL("({}, {})").format(p, o) for p, o in sorted(offsets.items()))
        conn.execute(
            sql.SQL(
                """insert into {target} (job_name, customer_id, device_fingerprint, payments, successes,
                  success_sum)
                select %(job)s, p.customer_id, p.device_fingerprint, count(*),
                  count(*) filter (where p.status = 'succeeded'),
                  coalesce(sum(p.amount) filter (where p.status = 'succeeded'), 0)
                from {bronze} as p join (values {starts}) as s (kafka_partition, start_offset)
                  on p.kafka_partition = s.kafka_partition and p.kafka_offset < s.start_offset
                where p.kafka_topic = %(topic)s and p.contract_error is null
                group by p.customer_id, p.device_fingerprint"""
            ).format(target=target, bronze=bronze, starts=starts),
            {"job": job_name, "topic": topic},
        )
        customers, payments = conn.execute(
            sql.SQL(
                "select count(distinct customer_id), coalesce(sum(payments), 0) from {} where job_name = %s"
            ).format(target),
            [job_name],
        ).fetchone()  # type: ignore[misc]
        loaded = dict(
            conn.execute(
                sql.SQL(
                    "select kafka_partition, max(kafka_offset) + 1 from {} where kafka_topic = %s group by 1"
                ).format(bronze),
                [topic],
            ).fetchall()
        )
    behind = {p: max(start - loaded.get(p, 0), 0) for p, start in offsets.items()}
    return PriorHistory(offsets, int(customers), int(payments), behind)
