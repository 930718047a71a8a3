"""Start, find and stop the processes the platform owns, through pid files.

A pid file holds the pid and the process start time (from /proc), so a recycled pid is never
mistaken for ours and `down` only ever signals processes that `up` started.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int


SESSION, START_TICKS = 3, 19
"""Indexes of the session id and the start time in `stat_fields`."""


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the command name (state first), zombies too; None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it are space separated.
    return stat.rsplit(")", 1)[1].split()


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the command name (state first), or None if gone or a zombie."""
    fields = _stat(pid)
    return None if fields is None or fields[0] == "Z" else fields


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie waiting for its parent to reap it."""
    return stat_fields(pid) is not None


def _start_ticks(pid: int) -> int | None:
    fields = stat_fields(pid)
    return int(fields[START_TICKS]) if fields else None


def read_pid(pid_file: Path) -> PidRecord | None:
    try:
        data = json.loads(pid_file.read_text())
        return PidRecord(int(data["pid"]), int(data["start_ticks"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_pid(pid_file: Path, pid: int) -> PidRecord:
    ticks = _start_ticks(pid)
    if ticks is None:
        raise ProcessLookupError(pid)
    record = PidRecord(pid, ticks)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(json.dumps({"pid": pid, "start_ticks": ticks}))
    return record


def running_pid(pid_file: Path) -> int | None:
    """The pid recorded in `pid_file` if that very process still runs, else None."""
    record = read_pid(pid_file)
    if record is None:
        return None
    return record.pid if _start_ticks(record.pid) == record.start_ticks else None


def identity(user: str | None) -> dict[str, Any]:
    """Popen arguments that run as `user` with *its* group and no other: `user=` alone keeps the
    caller's groups, so a child of root would still be in group root."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def start_detached(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start `argv` in its own session, output appended to `log_file`, and record its pid. What a
    dead earlier run left in its session is killed first (see `clear_leftovers`)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    left = clear_leftovers(pid_file)
    with log_file.open("ab") as log:
        if left:
            log.write(f"\n--- killed what the last run left running: pids {left}\n".encode())
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {argv[0]}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            **identity(user),
        )
    write_pid(pid_file, proc.pid)
    return proc.pid


def clear_leftovers(pid_file: Path, timeout: float = 10.0) -> list[int]:
    """Kill the processes a dead leader of `pid_file` left in its session (kill -9 takes only the
    leader: Airflow's scheduler, Superset's workers, the demo's simulator or PostgreSQL's backends
    live on and keep the port, the shared memory or the traffic a restart needs); their pids.
    The kernel gives no new process an id still in use as a session id, and a process that began
    before the leader cannot be its child, so only the dead run's own processes match."""
    record = read_pid(pid_file)
    if record is None or running_pid(pid_file) is not None:
        return []
    left = []
    for entry in Path("/proc").iterdir():
        fields = stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields and int(fields[SESSION]) == record.pid and int(fields[START_TICKS]) >= record.start_ticks:
            left.append(int(entry.name))
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while (any(alive(pid) for pid in left) or not _reaped(record)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _reaped(record: PidRecord) -> bool:
    """True once the dead leader is no zombie either: PostgreSQL refuses to start while the pid in
    its lock file answers a signal, and a zombie does. Reaped here if it is our child."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(record.pid, os.WNOHANG)
    fields = _stat(record.pid)
    return fields is None or int(fields[START_TICKS]) != record.start_ticks


def stop(pid_file: Path, *, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Stop the process of `pid_file` and its process group; True if something was stopped."""
    pid = running_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(pid_file) is not None:
        time.sleep(0.2)
    if running_pid(pid_file) is not None:
        _signal_group(pid, signal.SIGKILL)
        while running_pid(pid_file) is not None:
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 10) -> list[str]:
    """The last `lines` lines of a log file (empty if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]
