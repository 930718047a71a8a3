"""Demo traffic for `fraudlake up`: the simulator in real time, detached, at FRAUDLAKE_DEMO_RATE.

A loop of one-hour simulations (the generator schedules a run's fraud episodes up front, so one
endless run would grow without bound). Each hour takes a new seed (the current time), so its
payment ids never collide with an earlier hour's, and the same population seed: the same 100,000
customers keep paying from hour to hour, as at a real shop (at 20/s, each every ~80 minutes on
average). Profiles are upserted before each hour.

A platform that has never seen a payment first gets a week of the same customers' history,
replayed before the job starts (300,000 payments, ending today 00:00 UTC): the job then knows most
customers when the live traffic starts, instead of flagging everyone's first payment. Replayed on a
platform that has payments, that week would be behind the job's watermark and all of it would go
to the DLQ as late, so it is only replayed into an empty `payments` topic.

What the demo looks like to the rules (benchmarks/demo_detection.py): with 2,000 customers and a new
base every hour, everyone paid every ~100 s and was new every hour, and VELOCITY and FIRST_PAYMENT
alerted on ~80% of legitimate payments; the README has the figures of this setup.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time

from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon
from fraudlake.platform.errors import PlatformError
from fraudlake.topics import PAYMENTS

CUSTOMERS = 100_000
POPULATION_SEED = 1
HISTORY_EVENTS = 300_000
HISTORY = "7d"
SIMULATE = [sys.executable, "-m", "fraudlake.cli", "simulate"]
POPULATION = ["--customers", str(CUSTOMERS), "--population-seed", str(POPULATION_SEED)]


def daemon(ctx: Context) -> Daemon:
    return Daemon(ctx, "demo")


def start(ctx: Context, rate: int) -> int:
    """Start the live demo unless it runs; returns its pid."""
    live = shlex.join([*SIMULATE, "--realtime", "--rate", str(rate), "--duration", "1h", *POPULATION])
    return daemon(ctx).start(["bash", "-c", f"while true; do {live} --seed $(date +%s) || sleep 10; done"])


def needs_history(ctx: Context) -> bool:
    """True when the platform has never seen a payment (and the demo is not running)."""
    from confluent_kafka import Consumer, TopicPartition

    if daemon(ctx).running():
        return False
    consumer = Consumer({"bootstrap.servers": ctx.settings.kafka_bootstrap, "group.id": "fraudlake-demo"})
    try:
        partitions = consumer.list_topics(PAYMENTS.name, timeout=10).topics[PAYMENTS.name].partitions
        ends = [
            consumer.get_watermark_offsets(TopicPartition(PAYMENTS.name, p), timeout=10)[1]
            for p in partitions
        ]
        return not any(ends)
    finally:
        consumer.close()


def replay_history(ctx: Context) -> str:
    """The week of history, replayed into Kafka (and the profiles into PostgreSQL) now."""
    seed = str(int(time.time()))
    week = [*SIMULATE, "--events", str(HISTORY_EVENTS), "--duration", HISTORY, *POPULATION, "--seed", seed]
    done = subprocess.run(week, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise PlatformError(
            "demo",
            f"replaying the demo's history failed: {done.stderr.strip()[-500:]}",
            "see the error above; `./fraudlake up --no-demo` starts the platform without demo traffic",
        )
    return f"{HISTORY_EVENTS:,} payments over {HISTORY} of {CUSTOMERS:,} customers"


def stop(ctx: Context) -> bool:
    return daemon(ctx).stop(timeout=10)
