"""Benchmark: the streaming scoring job on the local cluster against a raw Kafka copy, and its latency.

In one command, so the noisy shared machine weighs on all alike:
  1. preload: the simulator replays EVENTS payments into a private 6-partition topic;
  2. raw passthrough: one Python process copies them to another topic (consumer -> producer), the
     baseline the issue asks the job to reach half of;
  3. sustained throughput: the job (its own topics and group, fresh state) scores the backlog; rate
     = payments / (time of the last decision written - time of the first), so start-up is excluded;
     every decision is then read back (read_committed) and counted: nothing lost, nothing doubled;
  4. latency at a fixed rate: a fresh job, the simulator in real time at RATE payments/s for
     DURATION s; payment -> decision latency = Kafka timestamp of the decision minus the Kafka
     timestamp of the payment (stamped by the producer when sent), after a warm-up. Three views:
     decisions as written (read uncommitted), decisions as a read_committed consumer sees them
     (exactly-once: waits for the checkpoint), alerts (at-least-once, the low-latency path).
  5. latency baseline, first: the same real-time feed through a plain Python consumer -> producer
     copy (payment -> copy, Kafka timestamps), so the job's figures read as a ratio to it.
--checkpoints 5000,30000 measures 4. once per checkpoint interval (the exactly-once sinks commit,
and every operator snapshots, at each one); --latency-only skips 1-3.
--plans 3,5 compares job plans (fraudlake_flink/sql.py): after 1, 2 and 5 once, 3 and 4 for each plan
in turn, --runs times (runs of one plan differ by up to 1.8x here), 4 once per --delays bound.
Writes benchmarks/results/scoring-job.json (scoring-job-latency.json with --latency-only,
scoring-job-plans.json with --plans).
Usage: python benchmarks/scoring_job.py [EVENTS] [RATE] [DURATION] [--latency-only]
       [--checkpoints MS,MS] [--plans N,N [--runs N] [--delays MS,MS]]   (defaults 500000 2000 60)
Job settings come from the environment as for `fraudlake job start` (FRAUDLAKE_JOB_*).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import threading
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scoring-job.json"
DAY = 86_400_000
WARM_UP_S = 15

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

from fraudlake.config import Settings  # noqa: E402
from fraudlake.contract import PAYMENT, SCHEMA_VERSION, Payment  # noqa: E402
from fraudlake.platform.context import Context  # noqa: E402
from fraudlake.platform.kafka import Kafka  # noqa: E402
from fraudlake.platform.postgres import APP_ROLE, Postgres  # noqa: E402
from fraudlake.simulator.generator import SimConfig, Simulation, all_customers  # noqa: E402
from fraudlake.simulator.options import Request, to_config  # noqa: E402
from fraudlake.simulator.run import Sinks, run  # noqa: E402
from fraudlake.simulator.sinks import KafkaSink, write_customers  # noqa: E402
from fraudlake.topics import FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS  # noqa: E402
from fraudlake_flink.control import Jobs  # noqa: E402
from fraudlake_flink.spec import JobSpec  # noqa: E402
from fraudlake_flink.sql import PLAN_VERSION  # noqa: E402


class Bench:
    def __init__(self) -> None:
        self.ctx = Context(Settings.from_env())
        self.kafka = Kafka(self.ctx)
        self.jobs = Jobs(self.ctx)
        self.topics: list[str] = []

    def topic(self, name: str, partitions: int) -> str:
        full = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        self.kafka.create_topics({full: partitions})
        self.topics.append(full)
        return full

    def spec(self, label: str) -> JobSpec:
        return JobSpec.from_settings(
            self.ctx.settings,
            name=f"bench-{label}-{uuid.uuid4().hex[:6]}",
            payments_topic=self.topic(f"{label}-payments", PAYMENTS.partitions),
            scores_topic=self.topic(f"{label}-scores", PAYMENT_SCORES.partitions),
            alerts_topic=self.topic(f"{label}-alerts", FRAUD_ALERTS.partitions),
            dlq_topic=self.topic(f"{label}-dlq", 1),
            group_id=f"bench-{label}-{uuid.uuid4().hex[:6]}",
        )

    def end_offsets(self, topic: str) -> int:
        consumer = Consumer({"bootstrap.servers": self.kafka.bootstrap, "group.id": "bench-offsets"})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return sum(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
            )
        finally:
            consumer.close()

    def read_all(self, topic: str, committed: bool) -> list[tuple[int, bytes]]:
        """(Kafka timestamp, value) of every record now in `topic`."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.kafka.bootstrap,
                "group.id": f"bench-read-{uuid.uuid4().hex[:6]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed" if committed else "read_uncommitted",
            }
        )
        consumer.subscribe([topic])
        records: list[tuple[int, bytes]] = []
        idle = 0
        try:
            while idle < 5:
                batch = consumer.consume(10_000, timeout=1.0)
                idle = 0 if batch else idle + 1
                records += [(m.timestamp()[1], m.value()) for m in batch if not m.error()]
        finally:
            consumer.close()
        return records

    def close(self) -> None:
        self.kafka.delete_topics(*self.topics)


def flush_partitions(bench: Bench, topic: str, partitions: int, event_time: int) -> None:
    """One payment per partition at `event_time`: the watermark passes everything before it."""
    producer = Producer({"bootstrap.servers": bench.kafka.bootstrap})
    for partition in range(partitions):
        payment = Payment(
            *(f"bench-flush-{partition}", "o", f"cus-bench-flush-{partition}", "m", Decimal("1.00"), "EUR"),
            *(
                "succeeded",
                None,
                "card",
                "web",
                "fp",
                "10.0.0.1",
                "DE",
                None,
                None,
                event_time,
                SCHEMA_VERSION,
            ),
        )
        producer.produce(topic, PAYMENT.to_json(payment), key=payment.customer_id, partition=partition)
    producer.flush(30)


def passthrough(bench: Bench, source: str, events: int) -> dict[str, Any]:
    target = bench.topic("copy", PAYMENTS.partitions)
    consumer = Consumer(
        {
            "bootstrap.servers": bench.kafka.bootstrap,
            "group.id": f"bench-copy-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer(
        {"bootstrap.servers": bench.kafka.bootstrap, "linger.ms": 20, "batch.size": 1_000_000}
    )
    consumer.subscribe([source])
    copied = 0
    started = None
    while copied < events:
        for message in consumer.consume(10_000, timeout=1.0):
            if message.error():
                continue
            started = started or time.monotonic()
            while True:
                try:
                    producer.produce(
                        target, message.value(), key=message.key(), timestamp=message.timestamp()[1]
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
            copied += 1
        producer.poll(0)
    producer.flush(60)
    seconds = time.monotonic() - (started or time.monotonic())
    consumer.close()
    return {"records": copied, "seconds": round(seconds, 2), "records_per_s": round(copied / seconds)}


def preload(bench: Bench, events: int) -> str:
    """A backlog of `events` simulated payments (their customers written first) on a fresh topic."""
    topic = bench.topic("backlog", PAYMENTS.partitions)
    now = int(time.time() * 1000)
    config = SimConfig(seed=11, events=events, start_ms=now - 6 * DAY, window_ms=6 * DAY - 120_000)
    with Postgres(bench.ctx).connect(APP_ROLE) as conn:
        write_customers(conn, all_customers(config))
    loaded = time.monotonic()
    # one process: two workers would interleave two event-time orders in each partition
    sinks = Sinks(
        kafka=KafkaSink(bench.kafka.bootstrap),
        payments_topic=topic,
        chargebacks_topic=bench.topic("chargebacks", 1),
    )
    stats = run(Simulation(config), sinks)
    print(f"  preloaded {stats.payments:,} payments in {time.monotonic() - loaded:.1f}s", flush=True)
    flush_partitions(bench, topic, PAYMENTS.partitions, now)
    return topic


def throughput(bench: Bench, backlog: str, events: int, plan: int = 0) -> dict[str, Any]:
    """A fresh job (its own group: it reads the backlog from the start) scores `backlog`."""
    spec = replace(bench.spec("throughput"), payments_topic=backlog, plan=plan)
    job_id = bench.jobs.start(spec, fresh=True).job_id
    first = last = None
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        written = bench.end_offsets(spec.scores_topic)
        if written and first is None:
            first = time.monotonic()
        if written + bench.end_offsets(spec.dlq_topic) >= events:  # a late payment is dead-lettered
            last = time.monotonic()
            break
        time.sleep(0.5)
    time.sleep(spec.checkpoint_interval_ms / 1000 * 2)  # the last transaction commits
    bench.jobs.stop(spec.name, savepoint=False)
    decisions = bench.read_all(spec.scores_topic, committed=True)
    ids = [json.loads(v)["payment_id"] for _, v in decisions]
    real = [t for (t, _), pid in zip(decisions, ids, strict=True) if not pid.startswith("bench-flush")]
    span = (max(real) - min(real)) / 1000
    return {
        "job_id": job_id,
        "plan": plan or PLAN_VERSION,
        "payments": events,
        "decisions_read_back": len(real),
        "dead_letters": bench.end_offsets(spec.dlq_topic),
        "duplicates": len(ids) - len(set(ids)),
        "seconds_first_to_last_decision": round(span, 2),
        "payments_per_s": round(len(real) / span),
        "polled_seconds": round((last or time.monotonic()) - (first or time.monotonic()), 1),
    }


def _payment_id(value: bytes) -> str:
    """payment_id is the first field of payments and decisions alike: slicing it out instead of
    parsing JSON keeps the measuring threads from starving the job of CPU."""
    start = value.index(b'"payment_id":"') + 14
    return value[start : value.index(b'"', start)].decode()


class _SendTimeSink(KafkaSink):
    """Lets the producer stamp each payment with its send time (the simulator stamps event time),
    so a lagging feed does not count as job latency."""

    def send(self, topic: str, key: str, value: bytes, timestamp_ms: int) -> None:
        super().send(topic, key, value, 0)


def realtime_config(rate: int, duration_s: int) -> SimConfig:
    """What `simulate --realtime --rate RATE --duration DURATION` runs (a steady rate: no
    seasonality), starting in 5 s."""
    request = Request(
        seed=int(time.time()),
        events=None,
        duration_ms=duration_s * 1000,
        rate=rate,
        realtime=True,
        start_ms=int(time.time() * 1000) + 5000,
        customers=None,
        fraud_rate=0.02,
        malformed_rate=0.0,
    )
    return to_config(request)


def realtime_feed(bootstrap: str, topic: str, config: SimConfig) -> None:
    run(
        Simulation(config),
        Sinks(kafka=_SendTimeSink(bootstrap), payments_topic=topic, chargebacks_topic=topic),
        realtime=True,
    )


def measure(
    bench: Bench,
    payments_topic: str,
    outputs: dict[str, tuple[str, bool]],
    rate: int,
    duration_s: int,
    settle_ms: int = 0,
) -> dict[str, Any]:
    """Feed `payments_topic` in real time and time each payment to its record in every output
    (name -> (topic, read_committed)), read until `settle_ms` after the feed: percentiles after the
    warm-up."""
    results: dict[str, list[tuple[int, str]]] = {name: [] for name in outputs}
    sent: dict[str, int] = {}

    def watch(name: str, topic: str, committed: bool, stop: threading.Event) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": bench.kafka.bootstrap,
                "group.id": f"bench-lat-{uuid.uuid4().hex[:6]}",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed" if committed else "read_uncommitted",
                "fetch.wait.max.ms": 10,
            }
        )
        consumer.subscribe([topic])
        while not stop.is_set():
            for message in consumer.consume(1000, timeout=0.2):
                if message.error():
                    continue
                seen = int(time.time() * 1000) if committed else message.timestamp()[1]
                if name == "dead_letters":  # no payment id to time: counted
                    results[name].append((seen, ""))
                    continue
                payment_id = _payment_id(message.value())
                if name == "payments":
                    sent[payment_id] = message.timestamp()[1]
                else:
                    results[name].append((seen, payment_id))
        consumer.close()

    stop = threading.Event()
    watchers = [
        threading.Thread(target=watch, args=(name, topic, committed, stop))
        for name, (topic, committed) in {**outputs, "payments": (payments_topic, False)}.items()
    ]
    for watcher in watchers:
        watcher.start()
    config = realtime_config(rate, duration_s)
    # the customers exist before their payments, as in production: an unknown customer is a lookup
    # miss, and misses are not cached (a new customer must be found), so each would be a query
    with Postgres(bench.ctx).connect(APP_ROLE) as conn:
        write_customers(conn, all_customers(config))
    feed = multiprocessing.Process(target=realtime_feed, args=(bench.kafka.bootstrap, payments_topic, config))
    feed.start()
    feed.join()
    time.sleep(settle_ms / 1000 + 3)
    stop.set()
    for watcher in watchers:
        watcher.join()
    summary: dict[str, Any] = {"rate": rate, "duration_s": duration_s, "warm_up_s": WARM_UP_S}
    for name, pairs in results.items():
        if name == "dead_letters":
            summary[name] = {"count": len(pairs)}
            continue
        after_warm_up = config.start_ms + WARM_UP_S * 1000
        lat = sorted(seen - sent[pid] for seen, pid in pairs if pid in sent and sent[pid] >= after_warm_up)
        if not lat:
            summary[name] = {"count": 0}
            continue
        summary[name] = {
            "count": len(lat),
            "p50_ms": lat[len(lat) // 2],
            "p95_ms": lat[int(len(lat) * 0.95)],
            "p99_ms": lat[int(len(lat) * 0.99)],
            "max_ms": lat[-1],
            "mean_ms": round(statistics.fmean(lat)),
        }
    return summary


def latency(
    bench: Bench,
    rate: int,
    duration_s: int,
    checkpoint_interval_ms: int,
    plan: int = 0,
    delay_ms: int | None = None,
) -> dict[str, Any]:
    """The job's latency: decisions as written (read uncommitted), decisions as a read_committed
    consumer sees them (exactly-once: they wait for the checkpoint), alerts (the low-latency path)."""
    spec = replace(bench.spec("latency"), checkpoint_interval_ms=checkpoint_interval_ms, plan=plan)
    if delay_ms is not None:
        spec = replace(spec, watermark_delay_ms=delay_ms)
    job_id = bench.jobs.start(spec, fresh=True).job_id
    outputs = {
        "written": (spec.scores_topic, False),
        "committed": (spec.scores_topic, True),
        "alerts": (spec.alerts_topic, False),
        "dead_letters": (spec.dlq_topic, False),  # late payments: what a tighter bound costs
    }
    summary = measure(bench, spec.payments_topic, outputs, rate, duration_s, checkpoint_interval_ms)
    checkpoint = bench.jobs.flink.rest(f"/jobs/{job_id}/checkpoints")["latest"]["completed"]
    bench.jobs.stop(spec.name, savepoint=False)
    summary |= {"plan": plan or PLAN_VERSION, "watermark_delay_ms": spec.watermark_delay_ms}
    summary["checkpoint_interval_ms"] = checkpoint_interval_ms
    summary["last_checkpoint"] = {
        "state_mb": round(checkpoint["state_size"] / 1e6, 1),
        "duration_ms": checkpoint["end_to_end_duration"],
    }
    return summary


def _copy_forever(bootstrap: str, source: str, target: str) -> None:
    """The latency baseline's copier: each payment forwarded as soon as it is read, newly stamped."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-copy-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 10,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    consumer.subscribe([source])
    while True:  # a short poll: consume() waits for its batch to fill or the timeout to pass
        for message in consumer.consume(1000, timeout=0.005):
            if not message.error():
                producer.produce(target, message.value(), key=message.key())
        producer.poll(0)


def copy_latency(bench: Bench, rate: int, duration_s: int) -> dict[str, Any]:
    """Baseline: the same feed through a plain Python consumer -> producer copy."""
    source = bench.topic("lat-copy-in", PAYMENTS.partitions)
    target = bench.topic("lat-copy-out", PAYMENTS.partitions)
    copier = multiprocessing.Process(target=_copy_forever, args=(bench.kafka.bootstrap, source, target))
    copier.start()
    try:
        return measure(bench, source, {"copy": (target, False)}, rate, duration_s)
    finally:
        copier.terminate()
        copier.join()


def compare(bench: Bench, args: argparse.Namespace, plans: list[int]) -> dict[str, Any]:
    """The plans alternately, `args.runs` times each, on one backlog and one kind of real-time feed,
    beside the raw copy of the same backlog and feed."""
    backlog = preload(bench, args.events)
    copy = passthrough(bench, backlog, args.events)
    print(f"  raw passthrough: {copy['records_per_s']:,} records/s", flush=True)
    baseline = copy_latency(bench, args.rate, args.duration)
    print(f"  raw copy latency at {args.rate}/s: {json.dumps(baseline)}", flush=True)
    delays = [int(ms) for ms in args.delays.split(",")] if args.delays else [None]
    runs: dict[str, list[dict[str, Any]]] = {"throughput": [], "latency": []}
    for round_ in range(args.runs):
        for plan in plans:
            job = throughput(bench, backlog, args.events, plan)
            print(f"  run {round_ + 1} plan {plan}: {job['payments_per_s']:,} payments/s {job}", flush=True)
            runs["throughput"].append(job)
            for delay in delays:
                lat = latency(
                    bench,
                    args.rate,
                    args.duration,
                    bench.ctx.settings.job_checkpoint_interval_ms,
                    plan,
                    delay,
                )
                print(
                    f"  run {round_ + 1} plan {plan} delay {lat['watermark_delay_ms']}: {json.dumps(lat)}",
                    flush=True,
                )
                runs["latency"].append(lat)
    table = []
    for plan in plans:
        rates = sorted(j["payments_per_s"] for j in runs["throughput"] if j["plan"] == plan)
        for delay in {lat["watermark_delay_ms"] for lat in runs["latency"]}:
            ours = [
                lat for lat in runs["latency"] if lat["plan"] == plan and lat["watermark_delay_ms"] == delay
            ]
            mine = [lat["alerts"] for lat in ours]
            table.append(
                {
                    "plan": plan,
                    "watermark_delay_ms": delay,
                    "payments_per_s": rates,
                    "median_vs_passthrough": round(statistics.median(rates) / copy["records_per_s"], 3),
                    "alerts_p50_ms": [a.get("p50_ms") for a in mine],
                    "alerts_p95_ms": [a.get("p95_ms") for a in mine],
                    "alerts_p99_ms": [a.get("p99_ms") for a in mine],
                    "dead_letters": [lat["dead_letters"]["count"] for lat in ours],
                }
            )
    for row in table:
        print(f"  {json.dumps(row)}", flush=True)
    return {"raw_passthrough": copy, "latency_baseline": baseline, "runs": runs, "plans": table}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("events", type=int, nargs="?", default=500_000)
    parser.add_argument("rate", type=int, nargs="?", default=2000)
    parser.add_argument("duration", type=int, nargs="?", default=60)
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput phases")
    parser.add_argument(
        "--checkpoints", help="checkpoint intervals (ms, comma separated) to measure latency under"
    )
    parser.add_argument(
        "--plans", help="job plans to run alternately, e.g. 3,5 (writes scoring-job-plans.json)"
    )
    parser.add_argument("--runs", type=int, default=3, help="with --plans: runs of each plan")
    parser.add_argument("--delays", help="with --plans: out-of-order bounds (ms, comma separated) to measure")
    args = parser.parse_args()
    bench = Bench()
    settings = bench.ctx.settings
    intervals = [int(ms) for ms in args.checkpoints.split(",")] if args.checkpoints else []
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "events": args.events}
    name = "scoring-job.json" if not args.latency_only else "scoring-job-latency.json"
    try:
        if args.plans:
            result |= compare(bench, args, [int(plan) for plan in args.plans.split(",")])
            name = "scoring-job-plans.json"
        elif not args.latency_only:
            backlog = preload(bench, args.events)
            job = throughput(bench, backlog, args.events)
            print(f"  job: {job['payments_per_s']:,} payments/s ({job})", flush=True)
            copy = passthrough(bench, backlog, args.events)
            print(f"  raw passthrough: {copy['records_per_s']:,} records/s", flush=True)
            result |= {
                "raw_passthrough": copy,
                "job_throughput": job,
                "job_vs_passthrough": round(job["payments_per_s"] / copy["records_per_s"], 2),
            }
        if not args.plans:
            baseline = copy_latency(bench, args.rate, args.duration)
            print(f"  raw copy latency at {args.rate}/s: {json.dumps(baseline)}", flush=True)
            result["latency_baseline"] = baseline
            result["latency"] = []
            for interval in intervals or [settings.job_checkpoint_interval_ms]:
                lat = latency(bench, args.rate, args.duration, interval)
                print(f"  latency at {args.rate}/s, checkpoints {interval} ms: {json.dumps(lat)}", flush=True)
                result["latency"].append(lat)
    finally:
        bench.close()
    spec = JobSpec.from_settings(settings)
    result["job_settings"] = {
        "parallelism": spec.parallelism,
        "watermark_delay_ms": spec.watermark_delay_ms,
        "alerts_delivery": spec.alerts_delivery,
    }
    (RESULTS.parent / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
