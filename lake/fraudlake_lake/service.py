"""The Bronze sink as a background process of `fraudlake up` / `down`."""

from __future__ import annotations

import sys

from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon

STOP_TIMEOUT_S = 120
"""SIGTERM makes the sink write and commit what it holds; only a hung sink is killed (nothing is
lost then either: uncommitted records are read again)."""


def daemon(ctx: Context) -> Daemon:
    return Daemon(ctx, "sink")


def start(ctx: Context) -> int:
    return daemon(ctx).start([sys.executable, "-m", "fraudlake.cli", "sink"])


def stop(ctx: Context) -> bool:
    return daemon(ctx).stop(timeout=STOP_TIMEOUT_S)
