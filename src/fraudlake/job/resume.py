"""Where a scoring job resumes from: the one rule `job start`, `up` and the Airflow DAGs share.

A job resumes from the newest consistent point of its lineage: the latest completed checkpoint of
its most recent run (retained when the job fails or is cancelled, found in storage even when the
JobManager that wrote it is gone) or a newer completed savepoint. Both carry the source offsets
and the Kafka transactions still pending at that point; restoring one commits those transactions.
Starting anew from the consumer group's committed offsets instead would abort them, and the
payments behind them would end with no decision (13 in one measured JobManager crash), so
committed offsets only serve monitoring and the first start.

A lineage begins at the newest fresh start (`--fresh`, or a first start): what came before it
belongs to a history the operator chose to leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fraudlake.job.registry import Registry, Savepoint
from fraudlake.job.storage import StateStorage


@dataclass(frozen=True)
class ResumePoint:
    location: str
    kind: str
    """`checkpoint`, or the savepoint's kind (`stop savepoint`, `pre-deploy savepoint`, ...)."""
    job_id: str
    plan_version: int
    rules_version: str
    taken_at: datetime | None
    """None for a savepoint the operator named that the registry does not know."""

    def describe(self) -> str:
        return f"{self.kind} {self.location} (job {self.job_id}, rules {self.rules_version})"


def from_savepoint(savepoint: Savepoint) -> ResumePoint:
    assert savepoint.path and savepoint.completed_at, "only a completed savepoint is a resume point"
    return ResumePoint(
        savepoint.path,
        f"{savepoint.kind} savepoint",
        savepoint.job_id,
        savepoint.plan_version,
        savepoint.rules_version,
        savepoint.completed_at,
    )


def resume_point(
    registry: Registry, storage: StateStorage, checkpoint_dir: str, job_name: str
) -> ResumePoint | None:
    """The newest completed checkpoint or savepoint of the job's lineage; None: start fresh."""
    runs = [(run, run.started_at) for run in registry.runs(job_name) if run.started_at is not None]
    if not runs:
        return None
    epoch = next((started for run, started in runs if run.started_from is None), runs[-1][1])
    candidates: list[tuple[datetime, ResumePoint]] = []
    for run, started in runs:
        if started < epoch:
            break
        checkpoint = storage.latest_checkpoint(checkpoint_dir, run.job_id)
        if checkpoint:
            # a later run starts after this one ends: this is the lineage's newest checkpoint
            point = ResumePoint(
                checkpoint.location,
                "checkpoint",
                run.job_id,
                run.plan_version,
                run.rules_version,
                checkpoint.modified,
            )
            candidates.append((checkpoint.modified, point))
            break
    for savepoint in registry.savepoints(job_name):  # newest first
        if savepoint.state == "completed" and savepoint.completed_at and savepoint.triggered_at >= epoch:
            candidates.append((savepoint.completed_at, from_savepoint(savepoint)))
            break
    return max(candidates, key=lambda pair: pair[0])[1] if candidates else None
