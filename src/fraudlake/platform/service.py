"""The shape every engine of the local platform has: install, start, check, stop, connect."""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraudlake import retry
from fraudlake.platform import process
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError

PORT_RELEASE_S = 5
"""How long a taken port may take to come free before a start is refused (Service.check_ports_free)."""


@dataclass(frozen=True)
class Port:
    variable: str
    port: int


@dataclass
class Health:
    up: bool
    detail: str = ""
    processes: dict[str, int | None] = field(default_factory=dict)


class Service(ABC):
    """One engine. Subclasses name their processes; pid and log files follow from the names."""

    name: str
    processes: tuple[str, ...]

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings

    @abstractmethod
    def install(self) -> bool:
        """Install pinned artifacts into the cache; True if anything was downloaded or built."""

    @abstractmethod
    def ports(self) -> list[Port]:
        """The ports this service listens on, with the variables that set them."""

    @abstractmethod
    def start(self) -> None:
        """Start the processes that are not running and wait until the service answers."""

    @abstractmethod
    def provision(self) -> None:
        """Create what the platform needs inside the service (roles, topics, buckets); idempotent."""

    @abstractmethod
    def probe(self) -> str | None:
        """None if the service answers its clients, else why not."""

    @abstractmethod
    def connection(self, show_secrets: bool) -> dict[str, Any]:
        """How clients reach this service (credentials only when asked)."""

    def stop(self) -> bool:
        """Stop our processes in reverse start order; True if any was running."""
        stopped = False
        for name in reversed(self.processes):
            stopped |= process.stop(self.pid_file(name), sig=self.stop_signal)
        return stopped

    stop_signal: int = signal.SIGTERM

    def owned_paths(self) -> list[Path]:
        """What the service keeps outside the state folder, for `reset` to delete too."""
        return []

    def pid_file(self, proc: str) -> Path:
        return self.ctx.pid_file(proc)

    def log_file(self, proc: str) -> Path:
        return self.ctx.log_file(proc)

    def running(self) -> dict[str, int | None]:
        return {proc: process.running_pid(self.pid_file(proc)) for proc in self.processes}

    def health(self) -> Health:
        pids = self.running()
        dead = [proc for proc, pid in pids.items() if pid is None]
        if dead:
            return Health(False, f"not running: {', '.join(dead)}", pids)
        problem = self.probe()
        return Health(problem is None, problem or "", pids)

    def check_ports_free(self) -> None:
        """Refuse to start if a port we need is taken by a process that is not ours. A port is given
        a few seconds to come free first: a process of ours killed a moment ago can hold its listener
        while its last threads exit, and a restart refused for that counted as a failed one."""
        for port in self.ports():
            taken = retry.poll(
                lambda: process.port_open(self.settings.bind_host, port.port),  # noqa: B023 (called here)
                done=lambda taken: not taken,
                deadline_s=PORT_RELEASE_S,
            )
            if taken:
                raise PlatformError(
                    self.name,
                    f"port {port.port} is already in use by another program",
                    f"stop that program (ss -ltnp 'sport = :{port.port}') or set {port.variable}"
                    " to a free port",
                )

    def wait_until(self, what: str, check: Callable[[], str | None]) -> None:
        """Poll `check` (None = ready) until the start timeout; fail with the log tail."""
        died: list[bool] = []

        def probe() -> str | None:
            died.append(any(pid is None for pid in self.running().values()))
            return check()

        problem = retry.poll(
            probe, done=lambda problem: problem is None or died[-1], deadline_s=self.settings.start_timeout
        )
        if problem is None:
            return
        logs = "\n    ".join(line for proc in self.processes for line in process.tail(self.log_file(proc), 8))
        raise PlatformError(
            self.name,
            f"{what} did not become ready ({problem}); last log lines:\n    {logs}",
            f"read `fraudlake logs {self.name}`, fix the cause, then run `fraudlake up` again",
        )
