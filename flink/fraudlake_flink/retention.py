"""Which savepoints to keep, and pruning the rest: data first, then the registry row.

Kept: the newest `keep_last` completed ones, every one younger than `max_age`, the one the running
job started from, and the newest pre-deploy one (a rollback's way back). Failed and completed
ones alike go once old enough; a savepoint still in progress is left alone for an hour. Savepoint
data in storage that no row names (its recorder died first) goes once old enough, unless it is
where the job would resume from. Deleting the data
before the row means a crash in between leaves a row pointing at nothing, which the next run
deletes again, never files that no row names (the order the Flink Kubernetes operator got wrong,
FLINK-39439).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fraudlake_flink.control import Jobs
from fraudlake_flink.registry import Registry, Savepoint
from fraudlake_flink.storage import StateStorage, Stored, same_location

ABANDONED = timedelta(hours=1)
"""A row still `in_progress` this long after its trigger lost its recorder (the wait gives up
after 5 min); the resume rule finds its data in storage if it completed."""


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
    keep |= {s.id for s in ordered if now - s.triggered_at < policy.max_age}
    keep |= {s.id for s in ordered if s.state == "in_progress" and now - s.triggered_at < ABANDONED}
    keep |= {s.id for s in completed if running_from is not None and s.path == running_from}
    keep |= set([s.id for s in completed if s.kind == "pre-deploy"][:1])
    return [s for s in reversed(ordered) if s.id not in keep]


def orphans(
    stored: Iterable[Stored],
    recorded: Iterable[Savepoint],
    now: datetime,
    policy: Policy,
    resume_from: str | None,
) -> list[Stored]:
    """Savepoints in storage that no row names (their recorder died), old enough to go, but never
    the one the job would resume from."""
    paths = [s.path for s in recorded if s.path]
    return [
        found
        for found in stored
        if now - found.modified >= policy.max_age
        and not any(same_location(found.location, path) for path in paths)
        and not (resume_from and same_location(found.location, resume_from))
    ]


def prune(registry: Registry, storage: StateStorage, victims: list[Savepoint]) -> int:
    """Delete each victim's data, then its row; the number of objects deleted."""
    deleted = 0
    for savepoint in victims:
        if savepoint.path:
            deleted += storage.delete(savepoint.path)
        registry.forget_savepoint(savepoint.id)
    return deleted


@dataclass(frozen=True)
class Pruned:
    savepoints: list[Savepoint]
    orphans: list[Stored]
    checkpoints: list[str]
    """Job ids whose retained checkpoint went."""
    objects: int


def apply(jobs: Jobs, job_name: str, policy: Policy, now: datetime) -> Pruned:
    """One retention pass over a job: recorded savepoints, unrecorded ones, and the checkpoints
    retained by runs that ended before `max_age` and that the job would no longer resume from."""
    active = jobs.find(job_name)
    running = jobs.registry.run(active["jid"]) if active else None
    point = jobs.resume_point(job_name)
    recorded = jobs.registry.savepoints(job_name)
    victims = to_prune(recorded, now, policy, running.started_from if running else None)
    objects = prune(jobs.registry, jobs.storage, victims)
    runs = jobs.registry.runs(job_name)
    stored = [
        found for _, found in jobs.storage.savepoints(jobs.flink.savepoint_dir, {r.job_id for r in runs})
    ]
    strays = orphans(stored, recorded, now, policy, point.location if point else None)
    objects += sum(jobs.storage.delete(found.location) for found in strays)
    done = []
    start = running.started_from if running else None
    for run in runs:
        checkpoints = f"{jobs.flink.checkpoint_dir}/{run.job_id}"
        # the running job's own, the next resume point's, and the one the running job started
        # from (Flink restores it again if the job fails before its first checkpoint)
        keep = (
            (active and run.job_id == active["jid"])
            or (point and run.job_id == point.job_id)
            or (start and start.startswith(checkpoints + "/"))
        )
        if keep or run.started_at is None or now - run.started_at < policy.max_age:
            continue
        removed = jobs.storage.delete(checkpoints)
        if removed:
            objects += removed
            done.append(run.job_id)
    return Pruned(victims, strays, done, objects)
