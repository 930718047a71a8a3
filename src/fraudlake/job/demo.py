"""Demo traffic for `fraudlake up`: the simulator in real time, detached, at FRAUDLAKE_DEMO_RATE.

A loop of one-hour simulations (the generator schedules a run's fraud episodes up front, so one
endless run would grow without bound). Each hour takes a new seed (the current time), so its
customers and payment ids never collide with an earlier hour's; its profiles are upserted into
PostgreSQL before its first payment.
"""

from __future__ import annotations

import shlex
import sys

from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon


def daemon(ctx: Context) -> Daemon:
    return Daemon(ctx, "demo")


def start(ctx: Context, rate: int) -> int:
    """Start the demo unless it runs; returns its pid."""
    options = ["--realtime", "--rate", str(rate), "--duration", "1h", "--customers", "2000"]
    simulate = shlex.join([sys.executable, "-m", "fraudlake.cli", "simulate", *options])
    return daemon(ctx).start(
        ["bash", "-c", f"while true; do {simulate} --seed $(date +%s) || sleep 10; done"]
    )


def stop(ctx: Context) -> bool:
    return daemon(ctx).stop(timeout=10)
