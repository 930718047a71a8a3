"""Benchmark: the Bronze sink, Kafka -> MinIO Parquet, against a raw Kafka read, in one command.

  1. preload: the simulator replays EVENTS payments into a private 6-partition topic, twice: within
     one hour of event time (live) and over a week (backfill);
  2. baseline: one Python process reads them all (consume only, nothing done with them), with
     confluent-kafka (librdkafka, what the sink uses);
  3. the sink (its own process, bucket and group, default flush settings) lands them; rate =
     rows / (time the last batch was durable - time the sink started reading), start-up excluded;
     then its peak RSS, and the objects' count and sizes per hour of simulated traffic.
Writes benchmarks/results/bronze-sink.json.
Usage: python benchmarks/bronze_sink.py [EVENTS]   (default 300000)
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from fraudlake.config import Settings
from fraudlake.platform.context import Context
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.minio import Minio
from fraudlake.simulator.generator import SimConfig, Simulation
from fraudlake.simulator.run import Sinks, run
from fraudlake.simulator.sinks import KafkaSink
from fraudlake.topics import PAYMENTS
from fraudlake_lake.sink import BronzeSink
from fraudlake_lake.stats import lake_stats

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "bronze-sink.json"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


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


def _sink(topic: str, bucket: str, total: int, reading: Any) -> None:
    """The sink with the default flush settings, told to stop (flush, commit) once it holds or
    wrote every record: the last partial batches are written at once instead of after 60 s."""
    ctx = Context(Settings.from_env())
    sink = BronzeSink(
        ctx, {topic: PAYMENTS.name}, bucket=bucket, group_id=f"bench-{bucket}", minio=Minio(ctx).client()
    )

    def stop_when_all_read() -> None:
        while sink.written + sum(len(b.messages) for b in list(sink.buffers.values())) < total:
            time.sleep(0.02)
        sink.stopping.set()

    threading.Thread(target=stop_when_all_read, daemon=True).start()
    reading.value = time.monotonic()  # imports and clients done: start-up is not throughput
    sink.run()


def land(topic: str, bucket: str, total: int) -> dict[str, Any]:
    """rows/s from when the sink starts reading until it has written every row and exited."""
    reading = multiprocessing.Value("d", 0.0)
    process = multiprocessing.Process(target=_sink, args=(topic, bucket, total, reading))
    process.start()
    process.join()
    seconds = time.monotonic() - reading.value
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "rows": total,
        "seconds": round(seconds, 2),
        "rows_per_s": round(total / seconds),
        "peak_rss_mb": round(peak_mb),
    }


def case(ctx: Context, events: int, hours: float) -> dict[str, Any]:
    """One run: EVENTS payments spread over HOURS of event time, read raw, then landed."""
    kafka = Kafka(ctx)
    topic, bucket = f"bench-bronze-{uuid.uuid4().hex[:6]}", f"bench-bronze-{uuid.uuid4().hex[:6]}"
    chargebacks = f"{topic}-chargebacks"
    kafka.create_topics({topic: PAYMENTS.partitions, chargebacks: 1})
    client = Minio(ctx).client()
    client.make_bucket(bucket)
    try:
        window = int(hours * HOUR_MS)
        config = SimConfig(
            seed=5, events=events, start_ms=int(time.time() * 1000) - window - DAY_MS, window_ms=window
        )
        stats = run(
            Simulation(config),
            Sinks(kafka=KafkaSink(kafka.bootstrap), payments_topic=topic, chargebacks_topic=chargebacks),
        )
        baseline = read_all(kafka.bootstrap, topic, stats.payments)
        landed = land(topic, bucket, stats.payments)
        sizes: dict[str, list[int]] = {}
        for o in client.list_objects(bucket, prefix=f"{topic}/", recursive=True):
            sizes.setdefault(o.object_name.rsplit("/", 1)[0], []).append(o.size)
        every = [size for hour in sizes.values() for size in hour]
        report = lake_stats(ctx, (topic,), bucket=bucket, client=Minio(ctx).client())[topic]
        result = {
            "payments": stats.payments,
            "event_time_hours": hours,
            "raw_read": baseline,
            "sink": landed,
            "sink_vs_raw_read": round(landed["rows_per_s"] / baseline["records_per_s"], 2),
            "files": {
                "objects": len(every),
                "event_hours": len(sizes),
                "objects_per_hour_median": statistics.median(len(v) for v in sizes.values()),
                "object_kb_median": round(statistics.median(every) / 1024, 1),
                "bytes_per_row": round(sum(every) / landed["rows"], 1),
                "payments_per_event_hour": round(stats.payments / hours),
            },
            "bronze_rows_vs_kafka_offsets": [report["bronze_rows"], report["kafka_offsets"]],
        }
        print(f"  {hours} h of event time: {json.dumps(result)}", flush=True)
        return result
    finally:
        kafka.delete_topics(topic, chargebacks)
        for o in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, o.object_name)
        client.remove_bucket(bucket)


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    ctx = Context(Settings.from_env())
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "flush_rows": ctx.settings.sink_flush_rows,
        # live: a backlog whose batches each fall in one or two event hours, as at a steady rate
        "live": case(ctx, events, hours=1),
        # backfill: a week of history at once, so every batch is cut into ~170 hourly objects
        "backfill": case(ctx, events, hours=7 * 24),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
