"""Which savepoints to keep, and pruning the rest: data first, then the registry row.

Kept: the newest `keep_last` completed ones, every one younger than `max_age`, the one the running
job started from, and the newest pre-deploy one (a rollback's way back). Failed and completed
ones alike go once old enough; a savepoint still in progress is never touched. Deleting the data
before the row means a crash in between leaves a row pointing at nothing, which the next run
deletes again, never files that no row names (the order the Flink Kubernetes operator got wrong,
FLINK-39439).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fraudlake.job.registry import Registry, Savepoint
from fraudlake.job.storage import StateStorage


@dataclass(frozen=True)
class Policy:
    keep_last: int
    max_age: timedelta


def to_prune(
    savepoints: Iterable[Savepoint], now: datetime, policy: Policy, running_from: str | None
) -> list[Savepoint]:
    """The savepoints retention lets go, oldest first."""
    ordered = sorted(savepoints, key=lambda s: (s.triggered_at, s.id), reverse=True)
    completed = [s for s in ordered if s.state == "completed"]
    keep = {s.id for s in completed[: policy.keep_last]}
    keep |= {s.id for s in ordered if now - s.triggered_at < policy.max_age or s.state == "in_progress"}
    keep |= {s.id for s in completed if running_from is not None and s.path == running_from}
    keep |= set([s.id for s in completed if s.kind == "pre-deploy"][:1])
    return [s for s in reversed(ordered) if s.id not in keep]


def prune(registry: Registry, storage: StateStorage, victims: list[Savepoint]) -> int:
    """Delete each victim's data, then its row; the number of objects deleted."""
    deleted = 0
    for savepoint in victims:
        if savepoint.path:
            deleted += storage.delete(savepoint.path)
        registry.forget_savepoint(savepoint.id)
    return deleted
