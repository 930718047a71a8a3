"""A fraudlake process that runs detached beside the services (demo traffic, the Bronze sink)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fraudlake.platform import process
from fraudlake.platform.context import Context


class Daemon:
    """Pid file and log of one named background process; start is idempotent."""

    def __init__(self, ctx: Context, name: str) -> None:
        self.name = name
        self.pid_file: Path = ctx.settings.run_dir / f"{name}.pid"
        self.log_file: Path = ctx.settings.log_dir / f"{name}.log"

    def running(self) -> int | None:
        return process.running_pid(self.pid_file)

    def start(self, argv: Sequence[str]) -> int:
        """Start `argv` unless this daemon runs; returns its pid."""
        pid = self.running()
        if pid is not None:
            return pid
        return process.start_detached(argv, pid_file=self.pid_file, log_file=self.log_file)

    def stop(self, timeout: float) -> bool:
        """SIGTERM, then SIGKILL after `timeout` seconds; True if it was running."""
        return process.stop(self.pid_file, timeout=timeout)
