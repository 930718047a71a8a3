"""`fraudlake supervise`: the supervisor's loop over the units `up` started (see
fraudlake/platform/supervision.py); `up` runs it in the background, `down` stops it first."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

from fraudlake.platform import runner
from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon
from fraudlake.platform.supervision import (
    DaemonUnit,
    ServiceUnit,
    Store,
    Supervisor,
    Unit,
    reap_children,
)

CHECK_S = 2.0
"""Between passes: a death is seen within this, and a first restart begins at once."""
STOP_TIMEOUT_S = 60


def daemon(ctx: Context) -> Daemon:
    return Daemon(ctx, "supervisor")


def units(ctx: Context) -> list[Unit]:
    """Everything `up` may start, in its order: the engines, the job, the sink, the demo."""
    from fraudlake.simulator import demo
    from fraudlake_flink.command import SupervisedJob
    from fraudlake_lake import service as sink

    return [
        *(ServiceUnit(service) for service in runner.services(ctx)),
        SupervisedJob(ctx),
        DaemonUnit("sink", sink.daemon(ctx), lambda: sink.start(ctx)),
        DaemonUnit("demo", demo.daemon(ctx), lambda: demo.start(ctx, ctx.settings.demo_rate)),
    ]


def run(ctx: Context) -> int:
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    supervisor = Supervisor(units(ctx), Store.of(ctx), _log)
    wanted = ", ".join(sorted(supervisor.store.wanted())) or "nothing yet"
    _log(f"supervising {wanted}; a pass every {CHECK_S:.0f} s")
    while not stopping.is_set():
        try:
            supervisor.check(stopping.is_set)
        except Exception as exc:  # e.g. a state file it cannot write: the next pass tries again
            _log(f"pass failed: {type(exc).__name__}: {exc}")
        reap_children()
        stopping.wait(CHECK_S)
    _log("stopped")
    return 0


def _log(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", flush=True)


def start(ctx: Context) -> int:
    return daemon(ctx).start([sys.executable, "-m", "fraudlake.cli", "supervise"])


def stop(ctx: Context) -> bool:
    return daemon(ctx).stop(timeout=STOP_TIMEOUT_S)
