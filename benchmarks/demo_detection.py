"""Benchmark: how the running demo traffic scores, per scenario, from Kafka alone.

Reads `ground-truth` and `payment-scores` (read_committed) from the platform's Kafka for payments
whose event time lies in the last MINUTES, joins them by payment_id, and prints per scenario the
payments and the share that alerted: for legitimate personas the false-positive rate, for fraud
scenarios the recall. `--bucket M` splits that by M-minute steps of event time, to see it change as
the demo's customers build up history. No lakehouse involved, so it reads minutes-old traffic.
Writes benchmarks/results/demo-detection.json.
Usage: python benchmarks/demo_detection.py [MINUTES] [--bucket M]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from fraudlake.config import Settings
from fraudlake.topics import GROUND_TRUTH, PAYMENT_SCORES

RESULTS = Path(__file__).resolve().parent / "results" / "demo-detection.json"
MINUTE_MS = 60_000


def records(bootstrap: str, topic: str, since_ms: int) -> Iterator[dict[str, Any]]:
    """Every committed record of `topic` stamped at or after `since_ms`, up to its end now."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "fraudlake-bench-demo",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        numbers = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        starts = consumer.offsets_for_times([TopicPartition(topic, n, since_ms) for n in numbers], timeout=30)
        ends = {n: consumer.get_watermark_offsets(TopicPartition(topic, n), timeout=10)[1] for n in numbers}
        pending = {tp.partition for tp in starts if 0 <= tp.offset < ends[tp.partition]}
        consumer.assign([tp for tp in starts if tp.partition in pending])
        while pending:
            message = consumer.poll(5.0)
            if message is None:
                break  # the rest of the range is an aborted transaction's or markers
            if message.error() or message.value() is None:
                continue
            if message.offset() + 1 >= ends[message.partition()]:
                pending.discard(message.partition())
            yield json.loads(message.value())
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("minutes", type=float, nargs="?", default=30)
    parser.add_argument("--bucket", type=float, help="minutes of event time per row (default: one row)")
    args = parser.parse_args()
    settings = Settings.from_env()
    bootstrap = settings.kafka_bootstrap
    now = int(time.time() * 1000)
    since = now - int(args.minutes * MINUTE_MS)
    truth = {
        r["payment_id"]: r for r in records(bootstrap, GROUND_TRUTH.name, since) if r["event_time"] >= since
    }
    step = int((args.bucket or args.minutes) * MINUTE_MS)
    payments: dict[tuple[int, str], int] = Counter()
    alerts: dict[tuple[int, str], int] = Counter()
    decided = 0
    for decision in records(bootstrap, PAYMENT_SCORES.name, since):
        label = truth.get(decision["payment_id"])
        if label is None:
            continue
        decided += 1
        key = ((label["event_time"] - since) // step, label["scenario"])
        payments[key] += 1
        alerts[key] += bool(decision["is_alert"])
    rows: dict[int, dict[str, Any]] = defaultdict(dict)
    for (bucket, scenario), count in sorted(payments.items()):
        rows[bucket][scenario] = {
            "payments": count,
            "alert_share": round(alerts[bucket, scenario] / count, 3),
        }
    for bucket, scenarios in rows.items():
        first, last = bucket * step // MINUTE_MS, (bucket + 1) * step // MINUTE_MS
        print(f"minutes {first}-{last} of the last {args.minutes:g}:")
        for scenario, figures in scenarios.items():
            print(f"  {scenario:24} {figures['payments']:7,} payments  alerted {figures['alert_share']:.3f}")
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "minutes": args.minutes,
        "bucket_minutes": step / MINUTE_MS,
        "labelled_payments": len(truth),
        "decided": decided,
        "buckets": [{"from_minute": b * step // MINUTE_MS, "scenarios": s} for b, s in rows.items()],
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{decided:,} of {len(truth):,} labelled payments decided; written to {RESULTS}")


if __name__ == "__main__":
    main()
