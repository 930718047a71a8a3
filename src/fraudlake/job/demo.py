"""Demo traffic for `fraudlake up`: the simulator in real time, detached, at FRAUDLAKE_DEMO_RATE.

A loop of one-hour simulations (the generator schedules a run's fraud episodes up front, so one
endless run would grow without bound). Each hour takes a new seed (the current time), so its
customers and payment ids never collide with an earlier hour's; its profiles are upserted into
PostgreSQL before its first payment.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from fraudlake.platform import process
from fraudlake.platform.context import Context

NAME = "demo"


def _pid_file(ctx: Context) -> Path:
    return ctx.settings.run_dir / f"{NAME}.pid"


def log_file(ctx: Context) -> Path:
    return ctx.settings.log_dir / f"{NAME}.log"


def running(ctx: Context) -> int | None:
    return process.running_pid(_pid_file(ctx))


def start(ctx: Context, rate: int) -> int:
    """Start the demo unless it runs; returns its pid."""
    pid = running(ctx)
    if pid is not None:
        return pid
    options = ["--realtime", "--rate", str(rate), "--duration", "1h", "--customers", "2000"]
    simulate = shlex.join([sys.executable, "-m", "fraudlake.cli", "simulate", *options])
    argv = ["bash", "-c", f"while true; do {simulate} --seed $(date +%s) || sleep 10; done"]
    return process.start_detached(argv, pid_file=_pid_file(ctx), log_file=log_file(ctx))


def stop(ctx: Context) -> bool:
    return process.stop(_pid_file(ctx), timeout=10)
