"""Benchmark: the Bronze sink, Kafka -> MinIO Parquet, against a raw Kafka read, in one command.

  1. preload: the simulator replays EVENTS payments (DAYS of event time) into a private
     6-partition topic;
  2. baseline: one Python process reads them all (consume only, nothing done with them);
  3. the sink (its own process, bucket and group, default flush settings) lands them; rate =
     rows / (time the last batch was durable - time the sink started reading), start-up excluded;
     then its peak RSS, and the objects' count and sizes per hour of simulated traffic.
Writes benchmarks/results/bronze-sink.json.
Usage: python benchmarks/bronze_sink.py [EVENTS] [DAYS]   (default 500000 7)
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from kafka.admin import NewTopic

from fraudlake.config import Settings
from fraudlake.lake.sink import BronzeSink
from fraudlake.lake.stats import lake_stats
from fraudlake.platform.context import Context
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.minio import Minio
from fraudlake.simulator.generator import SimConfig, Simulation
from fraudlake.simulator.run import Sinks, run
from fraudlake.simulator.sinks import KafkaSink
from fraudlake.topics import PAYMENTS

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "bronze-sink.json"
DAY_MS = 86_400_000


def read_all(bootstrap: str, topic: str, events: int) -> dict[str, Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-read-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    read, started = 0, None
    while read < events:
        batch = consumer.consume(10_000, timeout=1.0)
        started = started or (time.monotonic() if batch else None)
        read += sum(1 for m in batch if not m.error())
    seconds = time.monotonic() - (started or time.monotonic())
    consumer.close()
    return {"records": read, "seconds": round(seconds, 2), "records_per_s": round(read / seconds)}


def _sink(topic: str, bucket: str) -> None:
    sink = BronzeSink(
        Context(Settings.from_env()), {topic: PAYMENTS.name}, bucket=bucket, group_id=f"bench-{bucket}"
    )
    sink.stop_on_signals()
    sink.run()


def land(ctx: Context, topic: str, bucket: str, total: int) -> dict[str, Any]:
    """Start the sink process; rows/s from its start until `lake stats` shows every row."""
    process = multiprocessing.Process(target=_sink, args=(topic, bucket))
    started = time.monotonic()
    process.start()
    rows = 0
    while rows < total:
        time.sleep(0.2)
        rows = lake_stats(ctx, (topic,), bucket=bucket)[topic]["bronze_rows"]
    seconds = time.monotonic() - started
    process.terminate()
    process.join()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak_mb),
    }


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    ctx = Context(Settings.from_env())
    kafka = Kafka(ctx)
    topic, bucket = f"bench-bronze-{uuid.uuid4().hex[:6]}", f"bench-bronze-{uuid.uuid4().hex[:6]}"
    chargebacks = f"{topic}-chargebacks"
    admin = kafka.admin()
    admin.create_topics([NewTopic(topic, PAYMENTS.partitions, 1), NewTopic(chargebacks, 1, 1)])
    client = Minio(ctx).client()
    client.make_bucket(bucket)
    try:
        now = int(time.time() * 1000)
        config = SimConfig(seed=5, events=events, start_ms=now - (days + 1) * DAY_MS, window_ms=days * DAY_MS)
        stats = run(
            Simulation(config),
            Sinks(kafka=KafkaSink(kafka.bootstrap), payments_topic=topic, chargebacks_topic=chargebacks),
        )
        print(f"  preloaded {stats.payments:,} payments", flush=True)
        total = stats.payments
        baseline = read_all(kafka.bootstrap, topic, total)
        print(f"  raw read: {baseline['records_per_s']:,} records/s", flush=True)
        landed = land(ctx, topic, bucket, total)
        print(f"  sink: {landed['rows_per_s']:,} rows/s, peak RSS {landed['peak_rss_mb']} MB", flush=True)
        objects = [o for o in client.list_objects(bucket, prefix=f"{topic}/", recursive=True)]
        per_hour: dict[str, list[int]] = {}
        for o in objects:
            per_hour.setdefault(o.object_name.rsplit("/", 1)[0], []).append(o.size)
        counts = [len(v) for v in per_hour.values()]
        sizes = [s for v in per_hour.values() for s in v]
        files = {
            "objects": len(objects),
            "hours": len(per_hour),
            "objects_per_hour_median": statistics.median(counts),
            "object_kb_median": round(statistics.median(sizes) / 1024, 1),
            "bytes_per_row": round(sum(sizes) / landed["rows"], 1),
            "payments_per_hour": round(stats.payments / (days * 24)),
        }
        report = lake_stats(ctx, (topic,), bucket=bucket)[topic]
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "records": total,
            "flush_rows": ctx.settings.sink_flush_rows,
            "raw_read": baseline,
            "sink": landed,
            "sink_vs_raw_read": round(landed["rows_per_s"] / baseline["records_per_s"], 2),
            "files": files,
            "bronze_rows_vs_kafka": [report["bronze_rows"], report["kafka_offsets"]],
        }
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        admin.delete_topics([topic, chargebacks])
        admin.close()
        for o in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, o.object_name)
        client.remove_bucket(bucket)


if __name__ == "__main__":
    main()
