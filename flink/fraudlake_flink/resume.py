"""Where a scoring job resumes from: the one rule `job start`, `up` and the Airflow DAGs share.

A job resumes from the newest consistent point of its lineage: the latest completed checkpoint of
its most recent run (retained when the job fails or is cancelled) or a newer completed savepoint.
Both carry the source offsets and the Kafka transactions still pending at that point; restoring
one commits those transactions. Starting anew from the consumer group's committed offsets instead
would abort them, and the payments behind them would end with no decision (13 in one measured
JobManager crash), so committed offsets only serve monitoring and the first start.

The points are found in storage, not taken from the registry's word (fraudlake_flink/storage.py): a savepoint
that completed while its recorder died or timed out still counts, and checkpoints and savepoints
are dated by the same clock. Resuming from anything older than the newest point would score the
payments after it twice. The registry says which runs form the lineage (it begins at the newest
fresh start: what came before belongs to a history the operator chose to leave), and each point's
plan version and kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fraudlake_flink.registry import JobRun, Registry
from fraudlake_flink.storage import StateStorage, same_location


@dataclass(frozen=True)
class ResumePoint:
    location: str
    kind: str
    """`checkpoint`, or the savepoint's kind (`stop savepoint`, `pre-deploy savepoint`, ...)."""
    job_id: str
    plan_version: int
    rules_version: str
    taken_at: datetime | None
    """When its `_metadata` was written; None for a savepoint the operator named."""

    def describe(self) -> str:
        when = f", taken {self.taken_at:%Y-%m-%d %H:%M:%S}" if self.taken_at else ""
        return f"{self.kind} {self.location} (job {self.job_id}, rules {self.rules_version}{when})"


def lineage(runs: list[JobRun]) -> list[JobRun]:
    """The runs since the newest fresh start, newest first (`runs` newest first)."""
    for index, run in enumerate(runs):
        if run.started_from is None:
            return runs[: index + 1]
    return runs


def resume_point(
    registry: Registry, storage: StateStorage, checkpoint_dir: str, savepoint_dir: str, job_name: str
) -> ResumePoint | None:
    """The newest completed checkpoint or savepoint of the job's lineage; None: start fresh."""
    runs = lineage(registry.runs(job_name))
    by_id = {run.job_id: run for run in runs}
    candidates: list[ResumePoint] = []
    for run in runs:
        checkpoint = storage.latest_checkpoint(checkpoint_dir, run.job_id)
        if checkpoint:
            # a later run starts after this one ends: this is the lineage's newest checkpoint
            candidates.append(
                ResumePoint(
                    checkpoint.location, "checkpoint", run.job_id, run.plan_version, run.rules_version,
                    checkpoint.modified,
                )
            )  # fmt: skip
            break
    recorded = registry.savepoints(job_name) if runs else []
    for job_id, stored in storage.savepoints(savepoint_dir, set(by_id)) if runs else []:
        known = next((s for s in recorded if s.path and same_location(s.path, stored.location)), None)
        run = by_id[job_id]
        kind = f"{known.kind} savepoint" if known else "savepoint (not in the registry)"
        candidates.append(
            ResumePoint(stored.location, kind, job_id, run.plan_version, run.rules_version, stored.modified)
        )
    return max(candidates, key=lambda point: point.taken_at or datetime.min, default=None)
