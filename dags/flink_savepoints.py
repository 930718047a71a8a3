"""
### flink_savepoints: a savepoint of the running scoring job, recorded; old ones pruned

Hourly by default (`FRAUDLAKE_SAVEPOINT_INTERVAL_MINUTES`), one run at a time, no catch-up:

1. **take_savepoint**: triggers a savepoint of the running job through Flink's REST API (the job
   keeps running), waits for it and records it in `ops.savepoints` (kind `periodic`, its path and
   size). A failed savepoint fails the run with Flink's own error in the task log; no running job
   skips it.
2. **prune**: retention keeps the newest `FRAUDLAKE_SAVEPOINT_KEEP` completed savepoints, every one
   younger than `FRAUDLAKE_SAVEPOINT_MAX_AGE_HOURS`, the one the running job started from and the
   newest pre-deploy one; the others lose their data in MinIO first, then their registry row.

Rerunning is safe: another savepoint, and a prune that finds less to do. The logic lives in
`fraudlake.job.control` and `fraudlake.job.retention`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from fraudlake.config import Settings
from fraudlake.job.spec import JOB_NAME

SETTINGS = Settings.from_env()


def _jobs() -> Any:
    from fraudlake.job.control import Jobs
    from fraudlake.platform.context import Context

    return Jobs(Context(Settings.from_env()))


@dag(
    dag_id="flink_savepoints",
    schedule=timedelta(minutes=SETTINGS.savepoint_interval_minutes),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(minutes=30),
    tags=["fraudlake", "flink"],
    doc_md=__doc__,
    params={
        "job_name": Param(JOB_NAME, type="string", description="The scoring job (pipeline.name)"),
        "keep": Param(SETTINGS.savepoint_keep, type="integer", minimum=1),
        "max_age_hours": Param(SETTINGS.savepoint_max_age_hours, type="integer", minimum=0),
    },
)
def flink_savepoints() -> None:
    @task(retries=0)
    def take_savepoint() -> str:
        from airflow.exceptions import AirflowSkipException

        name = get_current_context()["params"]["job_name"]
        jobs = _jobs()
        job = jobs.find(name)
        if job is None:
            raise AirflowSkipException(f"no active job named {name}: nothing to save")
        savepoint = jobs.savepoint(name, kind="periodic")
        print(f"savepoint {savepoint.path}: {savepoint.size_bytes:,} bytes in {savepoint.duration_ms} ms")
        return str(savepoint.path)

    @task(retries=0, trigger_rule="none_failed")
    def prune() -> int:
        from fraudlake.job import retention

        params = get_current_context()["params"]
        jobs = _jobs()
        job = jobs.find(params["job_name"])
        running = jobs.registry.run(job["jid"]) if job else None
        policy = retention.Policy(params["keep"], timedelta(hours=params["max_age_hours"]))
        victims = retention.to_prune(
            jobs.registry.savepoints(params["job_name"]),
            datetime.now(UTC),
            policy,
            running.started_from if running else None,
        )
        deleted = retention.prune(jobs.registry, jobs.storage, victims)
        for victim in victims:
            print(
                f"pruned {victim.kind} savepoint {victim.path} "
                f"({victim.state}, {victim.triggered_at:%Y-%m-%d %H:%M})"
            )
        print(f"{len(victims)} savepoints pruned, {deleted} objects deleted")
        return len(victims)

    take_savepoint() >> prune()


flink_savepoints()
