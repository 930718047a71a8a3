"""Benchmark: a backlog caught up, as after a stop, a crash or the demo's first `up`: how many valid
payments the job sends to the DLQ as late, with and without per-split watermark alignment.

In one command, per variant: EVENTS payments over the last 7 days into a private 6-partition topic
(the demo's history), a fresh job started on it, and live traffic at LIVE_RATE payments/s into the
same topic from the moment the job starts (the demo's live feed). While the job catches up, a
partition its consumer fetches nothing from for the idle timeout is taken for idle, the watermark
moves to the live traffic's time, and what is left of that partition's history comes late. Counted
once every history payment has a decision or a dead letter: history payments dead-lettered as late
(target 0), decisions, catch-up time. Writes benchmarks/results/backlog-catchup.json.
Usage: python benchmarks/backlog_catchup.py [EVENTS] [LIVE_RATE] [--alignment MS,MS]
       (defaults 300000 20, alignment 0 (off) and 10000)
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "backlog-catchup.json"
DAY = 86_400_000
sys.path.insert(0, str(Path(__file__).parent))

from scoring_job import Bench, realtime_config, realtime_feed  # noqa: E402

from fraudlake.platform.postgres import APP_ROLE, Postgres  # noqa: E402
from fraudlake.simulator.generator import SimConfig, Simulation, all_customers  # noqa: E402
from fraudlake.simulator.run import Sinks, run  # noqa: E402
from fraudlake.simulator.sinks import KafkaSink, write_customers  # noqa: E402


def catch_up(bench: Bench, events: int, live_rate: int, alignment_ms: int) -> dict[str, Any]:
    spec = replace(bench.spec(f"backlog-{alignment_ms}"), watermark_alignment_ms=alignment_ms)
    now = int(time.time() * 1000)
    config = SimConfig(seed=11, events=events, start_ms=now - 7 * DAY, window_ms=7 * DAY - 120_000)
    with Postgres(bench.ctx).connect(APP_ROLE) as conn:
        write_customers(conn, all_customers(config))
    sinks = Sinks(
        kafka=KafkaSink(bench.kafka.bootstrap),
        payments_topic=spec.payments_topic,
        chargebacks_topic=bench.topic("chargebacks", 1),
    )
    history = run(Simulation(config), sinks).payments
    print(f"  alignment {alignment_ms} ms: {history:,} history payments preloaded", flush=True)
    began, boundary = time.monotonic(), int(time.time() * 1000)  # history before it, live after
    bench.jobs.start(spec, fresh=True)
    live = multiprocessing.get_context("spawn").Process(
        target=realtime_feed,
        args=(bench.kafka.bootstrap, spec.payments_topic, realtime_config(live_rate, 1800)),
        daemon=True,
    )
    live.start()
    caught_up = None
    deadline = time.monotonic() + 1800
    try:
        while time.monotonic() < deadline:
            accounted = bench.end_offsets(spec.scores_topic) + bench.end_offsets(spec.dlq_topic)
            if accounted >= history:
                caught_up = time.monotonic() - began
                break
            time.sleep(1)
        time.sleep(spec.checkpoint_interval_ms / 1000 * 2)  # the last transactions commit
    finally:
        live.terminate()
        bench.jobs.stop(spec.name, savepoint=False)
    late = other = 0
    for _, value in bench.read_all(spec.dlq_topic, committed=True):
        letter = json.loads(value)
        raw = json.loads(base64.b64decode(letter["raw_base64"]))
        if raw.get("event_time", boundary) < boundary:
            late += letter["reason"].startswith("late")
            other += not letter["reason"].startswith("late")
    decisions = [json.loads(v) for _, v in bench.read_all(spec.scores_topic, committed=True)]
    from_history = sum(d["event_time"] < boundary for d in decisions)
    return {
        "alignment_ms": alignment_ms,
        "history_payments": history,
        "history_late_in_dlq": late,
        "history_other_dlq": other,
        "history_decided": from_history,
        "history_unaccounted": history - from_history - late - other,
        "live_decided": len(decisions) - from_history,
        "catch_up_s": round(caught_up, 1) if caught_up else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("events", nargs="?", type=int, default=300_000)
    parser.add_argument("live_rate", nargs="?", type=int, default=20)
    parser.add_argument("--alignment", default="0,10000")
    args = parser.parse_args()
    bench = Bench()
    try:
        variants = [catch_up(bench, args.events, args.live_rate, int(ms)) for ms in args.alignment.split(",")]
    finally:
        bench.close()
    base = variants[0]
    for variant in variants:
        ratio = (
            variant["catch_up_s"] / base["catch_up_s"]
            if variant["catch_up_s"] and base["catch_up_s"]
            else None
        )
        variant["catch_up_vs_first"] = round(ratio, 2) if ratio else None
        print(json.dumps(variant))
    RESULTS.write_text(
        json.dumps({"events": args.events, "live_rate": args.live_rate, "variants": variants}, indent=2)
    )


if __name__ == "__main__":
    main()
