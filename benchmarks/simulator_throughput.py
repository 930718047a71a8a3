"""Benchmark: simulator replay throughput into the local Kafka, and memory for 1 M events.

Runs, in one command so the noisy shared machine affects all alike:
  1. generation alone (no sink) — the baseline;
  2. generation + JSON encoding + producing to Kafka (a scratch topic with the partitions of
     `payments`, deleted afterwards);
  3. the same from two worker processes (`--workers 2`), the replay mode's fast path;
each in a fresh subprocess that reports its own peak RSS. Prints the figures and writes
benchmarks/results/simulator-throughput.json. Target (issue 3): >= 50,000 events/s into Kafka.
Usage: python benchmarks/simulator_throughput.py [EVENTS]   (default 1,000,000)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "simulator-throughput.json"


def child(mode: str, events: int, topic: str) -> None:
    from fraudlake.config import Settings
    from fraudlake.platform.context import Context
    from fraudlake.platform.kafka import Kafka
    from fraudlake.simulator.generator import SimConfig, Simulation
    from fraudlake.simulator.run import Sinks, run, run_sharded
    from fraudlake.simulator.sinks import KafkaSink

    config = SimConfig(seed=1, events=events, start_ms=1_790_000_000_000)
    bootstrap = Kafka(Context(Settings.from_env())).bootstrap
    if mode == "kafka-2-workers":
        stats = run_sharded(config, 2, bootstrap, topics=Sinks(payments_topic=topic, chargebacks_topic=topic))
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "payments": stats.payments,
                    "seconds": round(stats.seconds, 2),
                    "payments_per_s": round(stats.rate),
                    "peak_rss_mb_per_worker": round(peak_mb),
                }
            )
        )
        return
    sim = Simulation(config)
    sinks = Sinks()
    if mode == "kafka":
        sinks = Sinks(
            kafka=KafkaSink(Kafka(Context(Settings.from_env())).bootstrap),
            payments_topic=topic,
            chargebacks_topic=topic,
        )
    stats = run(sim, sinks)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "payments": stats.payments,
                "seconds": round(stats.seconds, 2),
                "payments_per_s": round(stats.rate),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


def main() -> None:
    from fraudlake.config import Settings
    from fraudlake.platform.context import Context
    from fraudlake.platform.kafka import Kafka
    from fraudlake.topics import PAYMENTS

    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    kafka = Kafka(Context(Settings.from_env()))
    topic = f"bench-payments-{uuid.uuid4().hex[:8]}"
    kafka.create_topics({topic: PAYMENTS.partitions})
    results = {}
    try:
        for mode in ("generate", "kafka", "kafka-2-workers"):
            done = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(events), topic],
                capture_output=True,
                text=True,
                check=True,
            )
            results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{mode:9s} {results[mode]}", flush=True)
    finally:
        kafka.delete_topics(topic)
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "events": events,
        "generate_only": results["generate"],
        "into_kafka": results["kafka"],
        "into_kafka_2_workers": results["kafka-2-workers"],
        "ratios_to_generate_only": {
            mode: round(results[mode]["payments_per_s"] / results["generate"]["payments_per_s"], 2)
            for mode in ("kafka", "kafka-2-workers")
        },
        "target_payments_per_s": 50_000,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
