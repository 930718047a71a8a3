"""
### flink_savepoints: a savepoint of the running scoring job, recorded; old ones pruned

Hourly by default (`FRAUDLAKE_SAVEPOINT_INTERVAL_MINUTES`), one run at a time, no catch-up:

1. **take_savepoint**: triggers a savepoint of the running job through Flink's REST API (the job
   keeps running), waits for it and records it in `ops.savepoints` (kind `periodic`, its path and
   size). A failed savepoint fails the run with Flink's own error in the task log; a job that is
   not RUNNING, or a rules deploy under way (it takes its own savepoint), skips it.
2. **prune**: retention keeps the newest `FRAUDLAKE_SAVEPOINT_KEEP` completed savepoints, every one
   younger than `FRAUDLAKE_SAVEPOINT_MAX_AGE_HOURS`, the one the running job started from and the
   newest pre-deploy one; the others lose their data in MinIO first, then their registry row.
   Savepoint data no row names, and the checkpoints retained by older runs, go too once that old,
   except where the job would resume from.

Rerunning is safe: another savepoint, and a prune that finds less to do. The logic lives in
`fraudlake_flink.control` and `fraudlake_flink.retention`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

from fraudlake.config import Settings
from fraudlake_flink.spec import JOB_NAME

SETTINGS = Settings.from_env()


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
        from airflow.sdk.exceptions import AirflowSkipException

        from fraudlake_flink.control import Jobs

        name = get_current_context()["params"]["job_name"]
        jobs = Jobs.from_env()
        job = jobs.find(name)
        if job is None or job["state"] != "RUNNING":
            raise AirflowSkipException(f"{name} is {job['state'] if job else 'not running'}: nothing to save")
        if any(d.result == "running" for d in jobs.registry.deployments(name)[:1]):
            raise AirflowSkipException(f"a rules deploy of {name} is under way: it takes its own savepoint")
        savepoint = jobs.savepoint(name, kind="periodic")
        print(
            f"savepoint {savepoint.path}: {savepoint.size_bytes or 0:,} bytes in {savepoint.duration_ms} ms"
        )
        return str(savepoint.path)

    @task(retries=0, trigger_rule="none_failed")
    def prune() -> int:
        from fraudlake_flink import retention
        from fraudlake_flink.control import Jobs

        params = get_current_context()["params"]
        policy = retention.Policy(params["keep"], timedelta(hours=params["max_age_hours"]))
        pruned = retention.apply(Jobs.from_env(), params["job_name"], policy, datetime.now(UTC))
        for victim in pruned.savepoints:
            when = f"{victim.triggered_at:%Y-%m-%d %H:%M}"
            print(f"pruned {victim.kind} savepoint {victim.path} ({victim.state}, {when})")
        for stray in pruned.orphans:
            print(f"pruned unrecorded savepoint {stray.location} ({stray.modified:%Y-%m-%d %H:%M})")
        for job_id in pruned.checkpoints:
            print(f"pruned the retained checkpoint of run {job_id}")
        savepoints = len(pruned.savepoints) + len(pruned.orphans)
        print(
            f"{savepoints} savepoints, {len(pruned.checkpoints)} checkpoints, {pruned.objects} objects pruned"
        )
        return len(pruned.savepoints)

    take_savepoint() >> prune()


flink_savepoints()
