"""Demo traffic for `fraudlake up`: the simulator in real time, detached, at FRAUDLAKE_DEMO_RATE.

A loop of one-hour simulations (the generator schedules a run's fraud episodes up front, so one
endless run would grow without bound). Each hour takes a new seed (the current time), so its
payment ids never collide with an earlier hour's, and the same population seed: the same 100,000
customers keep paying from hour to hour, as at a real shop (at 20/s, each every ~80 minutes on
average). Profiles are upserted before each hour.

A platform that has never seen a payment first gets a week of the same customers' history,
replayed (300,000 payments, ending today 00:00 UTC): the job then knows most customers when the
live traffic starts, instead of flagging everyone's first payment. Replayed on a platform that has
payments, that week would be behind the job's watermark and all of it would go to the DLQ as late,
so it is only replayed into an empty `payments` topic.

What the demo looks like to the rules (benchmarks/demo_detection.py): with 2,000 customers and a new
base every hour, everyone paid every ~100 s and was new every hour, and VELOCITY and FIRST_PAYMENT
alerted on ~80% of legitimate payments; the README has the figures of this setup.
"""

from __future__ import annotations

import shlex
import sys

from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon
from fraudlake.topics import PAYMENTS

CUSTOMERS = 100_000
POPULATION_SEED = 1
HISTORY_EVENTS = 300_000
HISTORY = "7d"


def daemon(ctx: Context) -> Daemon:
    return Daemon(ctx, "demo")


def start(ctx: Context, rate: int) -> tuple[int, bool]:
    """Start the demo unless it runs; returns its pid and whether it replays a week of history first."""
    simulate = [sys.executable, "-m", "fraudlake.cli", "simulate"]
    population = ["--customers", str(CUSTOMERS), "--population-seed", str(POPULATION_SEED)]
    live = shlex.join([*simulate, "--realtime", "--rate", str(rate), "--duration", "1h", *population])
    script = f"while true; do {live} --seed $(date +%s) || sleep 10; done"
    history = not daemon(ctx).running() and _no_payments_yet(ctx)
    if history:
        week = shlex.join([*simulate, "--events", str(HISTORY_EVENTS), "--duration", HISTORY, *population])
        script = f"{week} --seed $(date +%s); {script}"
    return daemon(ctx).start(["bash", "-c", script]), history


def _no_payments_yet(ctx: Context) -> bool:
    from confluent_kafka import Consumer, TopicPartition

    bootstrap = f"{ctx.settings.bind_host}:{ctx.settings.kafka_port}"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fraudlake-demo"})
    try:
        partitions = consumer.list_topics(PAYMENTS.name, timeout=10).topics[PAYMENTS.name].partitions
        ends = [
            consumer.get_watermark_offsets(TopicPartition(PAYMENTS.name, p), timeout=10)[1]
            for p in partitions
        ]
        return not any(ends)
    finally:
        consumer.close()


def stop(ctx: Context) -> bool:
    return daemon(ctx).stop(timeout=10)
