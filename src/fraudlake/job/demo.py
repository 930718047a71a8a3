"""Demo traffic for `fraudlake up`: the simulator in real time, detached, at FRAUDLAKE_DEMO_RATE.

A loop of one-hour simulations (the generator schedules a run's fraud episodes up front, so one
endless run would grow without bound). Each hour takes a new seed (the current time), so its
payment ids never collide with an earlier hour's, and the same population seed: the same 100,000
customers keep paying from hour to hour, each a few times a day, as at a real shop. (With 2,000
customers and a new base every hour, everyone paid every ~100 s and was new every hour: VELOCITY and
FIRST_PAYMENT alerted on ~80% of legitimate payments.) Profiles are upserted before each hour.
"""

from __future__ import annotations

import shlex
import sys

from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon

CUSTOMERS = 100_000
POPULATION_SEED = 1


def daemon(ctx: Context) -> Daemon:
    return Daemon(ctx, "demo")


def start(ctx: Context, rate: int) -> int:
    """Start the demo unless it runs; returns its pid."""
    options = ["--realtime", "--rate", str(rate), "--duration", "1h"]
    options += ["--customers", str(CUSTOMERS), "--population-seed", str(POPULATION_SEED)]
    simulate = shlex.join([sys.executable, "-m", "fraudlake.cli", "simulate", *options])
    return daemon(ctx).start(
        ["bash", "-c", f"while true; do {simulate} --seed $(date +%s) || sleep 10; done"]
    )


def stop(ctx: Context) -> bool:
    return daemon(ctx).stop(timeout=10)
