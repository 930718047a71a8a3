"""What a process tree costs: its memory and CPU time, from /proc (`status` and the benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

from fraudlake.platform.process import stat_fields


def tree(pid: int) -> list[int]:
    """A process and all its descendants (PostgreSQL forks one per backend, Airflow its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process tree (pages shared between forks count once per process)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for current in tree(pid):
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def tree_pss_bytes(pid: int) -> int:
    """Proportional memory of a process tree: each shared page split between its sharers, so forked
    workers are not counted many times over (what the tree costs the machine)."""
    total = 0
    for current in tree(pid):
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:"))
    return total


def tree_cpu_seconds(pid: int) -> float:
    """CPU time a process tree has used so far, its ended descendants included: each live process
    counts its own time plus that of the children it reaped (which carry their own reaped ones)."""
    ticks = 0
    for current in tree(pid):
        fields = stat_fields(current)
        if fields:
            ticks += sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")
