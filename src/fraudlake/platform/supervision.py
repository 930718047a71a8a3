"""Supervision: a platform process that dies is started again without a person.

`fraudlake up` ends by starting the supervisor (`fraudlake supervise`, in the background), which
every few seconds looks at the units `up` started: each engine's processes, the scoring job, the
Bronze sink, the demo traffic. A dead unit is restarted through the idempotent start `up` itself
uses (so a restart prepares, starts, waits until the unit answers and provisions, as `up` would):
at once the first time, then after a backoff that doubles. A unit that needed `max_restarts`
restarts within `window_s` is left down and `fraudlake status` shows why, with its last log
lines; the next `up` (a person looked at it) clears that verdict. Decision 0014.

Two files in the run folder: what is supervised (written by `up`, `down`, `job start|stop`) and
what happened (written by the supervisor alone). Restarts and `up` take turns on one lock, so a
process is never started twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fraudlake.platform import locks, process, state_folder
from fraudlake.platform.context import Context
from fraudlake.platform.daemon import Daemon
from fraudlake.platform.service import Service

LOG_LINES = 8


class Unit(Protocol):
    """Something the supervisor keeps running."""

    name: str

    def down(self) -> str | None:
        """Why it needs a restart; None while it runs (or while it cannot be judged)."""

    def restart(self) -> str:
        """Start it again, as `up` would; a note on how."""

    def logs(self) -> list[str]:
        """Its last log lines."""


@dataclass(frozen=True)
class Policy:
    max_restarts: int = 5
    window_s: float = 600.0
    first_backoff_s: float = 2.0
    max_backoff_s: float = 20.0

    def due(self, restarts: Sequence[float], now: float) -> float | None:
        """When the next restart may run (now or earlier: at once), or None: it keeps dying, leave
        it down."""
        recent = [at for at in restarts if now - at < self.window_s]
        if len(recent) >= self.max_restarts:
            return None
        if not recent:
            return now
        backoff: float = self.first_backoff_s * 2.0 ** (len(recent) - 1)
        return recent[-1] + min(backoff, self.max_backoff_s)

    def describe(self) -> str:
        return f"{self.max_restarts} restarts in {self.window_s / 60:.0f} min"


@dataclass
class UnitState:
    restarts: list[float] = field(default_factory=list)
    """when it was restarted (epoch seconds), within the policy's window"""
    left_down: dict[str, Any] | None = None
    """why it was given up on: at, reason, last log lines"""
    last: str = ""
    """the last thing that happened to it"""


class Store:
    """The supervised units and what happened to them, in the run folder."""

    @classmethod
    def of(cls, ctx: Context) -> Store:
        """The store of this state folder (claimed first: its lock is often the first file in it)."""
        state_folder.claim(ctx.settings.home)
        return cls(ctx.settings.run_dir)

    def __init__(self, run_dir: Path) -> None:
        self.wanted_file = run_dir / "supervised.json"
        self.state_file = run_dir / "supervision.json"
        self.lock_file = run_dir / "lifecycle.lock"

    def wanted(self) -> set[str]:
        return set(_read(self.wanted_file, []))

    def want(self, *names: str, only: bool = False) -> None:
        """Supervise these units too (`only`: these units and no other)."""
        with locks.held(self.wanted_file.with_suffix(".lock")):
            _write(self.wanted_file, sorted(set(names) | (set() if only else self.wanted())))

    def unwant(self, *names: str) -> None:
        with locks.held(self.wanted_file.with_suffix(".lock")):
            _write(self.wanted_file, sorted(self.wanted() - set(names)))

    def states(self) -> dict[str, UnitState]:
        return {name: UnitState(**state) for name, state in _read(self.state_file, {}).items()}

    def save(self, states: dict[str, UnitState]) -> None:
        _write(self.state_file, {name: asdict(state) for name, state in states.items()})

    def forgive(self) -> None:
        """Forget restarts and verdicts: `up` was run, a person is looking."""
        self.state_file.unlink(missing_ok=True)

    def lifecycle(self, wait: bool = True) -> AbstractContextManager[bool]:
        """The lock that restarts and `up` take turns on; False without `wait` while it is taken."""
        return locks.held(self.lock_file, wait)

    @contextmanager
    def paused(self, name: str) -> Iterator[None]:
        """Leave `name` alone meanwhile (an operator's maintenance, a test's planned outage)."""
        supervised = name in self.wanted()
        with self.lifecycle():  # a restart under way ends first; the next one sees the pause
            self.unwant(name)
        try:
            yield
        finally:
            if supervised:
                self.want(name)


def _read(path: Path, empty: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return empty


def _write(path: Path, value: Any) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}")
    part.write_text(json.dumps(value, indent=1))
    part.replace(path)


class Supervisor:
    """One pass over the units, in start order (a database before its users)."""

    def __init__(
        self,
        units: Sequence[Unit],
        store: Store,
        log: Callable[[str], None],
        policy: Policy = Policy(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.units = units
        self.store = store
        self.log = log
        self.policy = policy
        self.clock = clock
        self._check_errors: dict[str, str] = {}

    def check(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """One pass; `stopping` ends it early (SIGTERM: nothing more is started)."""
        wanted = self.store.wanted()  # read once a pass: `_revive` reads both again under the lock
        left_down = {name for name, state in self.store.states().items() if state.left_down}
        for unit in self.units:
            if stopping():
                return
            if unit.name in wanted and unit.name not in left_down and self._down(unit):
                self._revive(unit)

    def _down(self, unit: Unit) -> str | None:
        """`unit.down()`; a check that fails (a REST call timing out) judges nothing this pass."""
        try:
            why = unit.down()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if self._check_errors.get(unit.name) != problem:  # said once, not every pass
                self.log(f"{unit.name}: cannot tell whether it runs: {problem}")
            self._check_errors[unit.name] = problem
            return None
        self._check_errors.pop(unit.name, None)
        return why

    def _revive(self, unit: Unit) -> None:
        """Under the lifecycle lock, so that `up` (which forgives), `down` and `job stop` (which
        unwant) never race a restart, and the state is read and written whole. While another
        holds it, the next pass tries again: a pass that waited would not reap the processes it
        restarted earlier, and a zombie it left made `up`'s own restart wait (process._reaped)."""
        with self.store.lifecycle(wait=False) as mine:
            if not mine:
                return
            why = self._down(unit)  # `up` may have started it since the pass looked
            states = self.store.states()
            state = states.setdefault(unit.name, UnitState())
            if why is None or unit.name not in self.store.wanted() or state.left_down:  # or paused it
                return
            now = self.clock()
            state.restarts = [at for at in state.restarts if now - at < self.policy.window_s]
            due = self.policy.due(state.restarts, now)
            if due is None:
                reason = f"left down: it needed {self.policy.describe()}" + (
                    f"; the last: {state.last}" if state.last else ""
                )
                state.left_down = {"at": now, "reason": reason, "last_log_lines": unit.logs()[-LOG_LINES:]}
                state.last = reason
                self.store.save(states)
                self.log(f"{unit.name}: {reason}; `fraudlake up` starts it again once its cause is fixed")
                return
            if due > now:
                return
            state.restarts.append(now)
            self.log(f"{unit.name}: {why}; restarting ({len(state.restarts)} in the window)")
            began = time.monotonic()
            try:
                note = unit.restart()
            except Exception as exc:  # a failed restart is one more restart; the log says why
                state.last = f"restart failed: {type(exc).__name__}: {exc}"
            else:
                state.last = f"restarted in {time.monotonic() - began:.1f} s" + (f" ({note})" if note else "")
            self.store.save(states)
            self.log(f"{unit.name}: {state.last}")


def reap_children() -> None:
    """Collect the exit status of restarted processes that died since (a zombie counts as dead
    already, see process.alive, but would fill the process table)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class ServiceUnit:
    """An engine: down when any of its processes is; restarted by its own start and provisioning."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.name = service.name

    def down(self) -> str | None:
        dead = [proc for proc, pid in self.service.running().items() if pid is None]
        return f"not running: {', '.join(dead)}" if dead else None

    def restart(self) -> str:
        self.service.start()
        self.service.provision()
        return ""

    def logs(self) -> list[str]:
        return [
            line for proc in self.service.processes for line in process.tail(self.service.log_file(proc), 4)
        ]


class DaemonUnit:
    """One of fraudlake's own background processes (the Bronze sink, the demo traffic)."""

    def __init__(self, name: str, daemon: Daemon, start: Callable[[], int]) -> None:
        self.name = name
        self.daemon = daemon
        self.start = start

    def down(self) -> str | None:
        return None if self.daemon.running() else "not running"

    def restart(self) -> str:
        return f"pid {self.start()}"

    def logs(self) -> list[str]:
        return process.tail(self.daemon.log_file, LOG_LINES)
