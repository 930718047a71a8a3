"""`fraudlake watch alerts|scores|dlq`: the job's output as an analyst reads it (committed records only)."""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime
from typing import Any

from fraudlake.platform.context import Context
from fraudlake.topics import FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS_DLQ

TOPICS = {"alerts": FRAUD_ALERTS.name, "scores": PAYMENT_SCORES.name, "dlq": PAYMENTS_DLQ.name}


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(stream: str, record: dict[str, Any], kafka_ms: int) -> str:
    if stream == "dlq":
        raw = base64.b64decode(record["raw_base64"])[:120].decode(errors="replace")
        return f"{_time(kafka_ms)}  {record['reason']}\n    {raw}"
    head = (
        f"{_time(record['event_time'])}  {record['severity']:6} {record['score']:3}  {record['customer_id']}"
    )
    if stream == "alerts":
        head += f"  {record['amount']} {record['currency']}  alert {record['alert_id'][:12]}"
    return "\n    ".join([head, *record["reasons"]])


def watch(ctx: Context, stream: str, last: int, follow: bool) -> int:
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": ctx.settings.kafka_bootstrap,
            "group.id": "fraudlake-watch",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    topic = TOPICS[stream]
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment, ends = [], {}
        for number in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, number), timeout=10)
            start = max(low, high - last) if last >= 0 else OFFSET_END
            assignment.append(TopicPartition(topic, number, start))
            if start != OFFSET_END and start < high:
                ends[number] = high
        consumer.assign(assignment)
        idle = 0
        # without --follow: up to the end offsets seen at the start (or 2 s of nothing, for a
        # partition whose last records are transaction markers or an open transaction)
        while follow or (ends and idle < 2):
            message = consumer.poll(1.0)
            if message is None:
                idle += 1
                continue
            if message.error():
                print(f"error: {message.error()}", file=sys.stderr)
                return 1
            idle = 0
            offset, partition = message.offset() or 0, message.partition()
            if not follow and offset >= ends.get(partition, 0):
                continue
            value = message.value()
            if value is not None:
                print(render(stream, json.loads(value), message.timestamp()[1]), flush=True)
            if not follow and offset + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
    except KeyboardInterrupt:
        return 130
    finally:
        consumer.close()
    return 0
