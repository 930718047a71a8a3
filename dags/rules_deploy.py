"""
### rules_deploy: put a new rules version live on the running scoring job, or roll it back

Triggered by hand (the form asks for the rules file) or by `fraudlake rules deploy FILE [--wait]`;
one run at a time. The steps (the logic lives in `fraudlake.job.deploy`):

1. **validate_rules**: the rules file as `job start` reads it; a bad file stops here, naming the field.
2. **check_compatible**: the running job's plan version and velocity depth must carry over into the
   new rules (its per-customer state restores); an incompatible change is refused with the way out,
   before the job is touched.
3. **stop_with_savepoint**, then **start_new_rules** from that pre-deploy savepoint.
4. **health_gate**: every task RUNNING, 2 checkpoints completed, decisions by the new rules version
   on payment-scores, no restart, within `gate_timeout_s`.
5. **rollback** (only when a step failed): the previous rules resume from the newest consistent
   point (nothing lost, nothing scored twice).
6. **record**: the outcome in `ops.deployments` (`fraudlake job history`); the run fails unless the
   new rules are live, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from fraudlake.config import Settings
from fraudlake.job.spec import JOB_NAME

STEPS = ("validate_rules", "check_compatible", "stop_with_savepoint", "start_new_rules", "health_gate")


def _jobs() -> Any:
    from fraudlake.job.control import Jobs
    from fraudlake.platform.context import Context

    return Jobs(Context(Settings.from_env()))


def _params() -> dict[str, Any]:
    context = get_current_context()
    params = dict(context["params"])
    params["requested_by"] = (
        params.get("requested_by") or getattr(context["dag_run"], "triggering_user_name", None) or "airflow"
    )
    return params


def _step(action: Callable[[], Any]) -> Any:
    """Run one step; a failure is kept as XCom `error` for `record` before the task fails."""
    try:
        return action()
    except Exception as exc:
        get_current_context()["ti"].xcom_push(key="error", value=str(exc).strip()[:1500])
        raise


@dag(
    dag_id="rules_deploy",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    tags=["fraudlake", "flink"],
    doc_md=__doc__,
    params={
        "rules_file": Param("", type="string", minLength=1, description="Path of the rules YAML to put live"),
        "job_name": Param(JOB_NAME, type="string", description="The scoring job (pipeline.name)"),
        "gate_timeout_s": Param(
            Settings.from_env().deploy_gate_timeout_s,
            type="integer",
            minimum=1,
            description="Seconds the new rules have to prove healthy before the deploy rolls back",
        ),
        "requested_by": Param("", type="string", description="Who asks (default: the triggering user)"),
    },
)
def rules_deploy() -> None:
    @task(retries=0)
    def validate_rules() -> str:
        from fraudlake.job import deploy
        from fraudlake.job.registry import rules_sha256

        params = _params()
        jobs = _jobs()
        run_id = str(get_current_context()["run_id"])
        before = deploy.running_run(jobs, params["job_name"])
        path = Path(params["rules_file"])
        sha = rules_sha256(path) if path.is_file() else ""
        jobs.registry.deployment_started(
            params["job_name"], run_id, params["requested_by"], before, str(path), sha
        )
        rules = _step(lambda: deploy.validate(params["rules_file"]))
        return str(rules.version)

    @task(retries=0)
    def check_compatible(version: str) -> str:
        from fraudlake.job import deploy

        params = _params()
        jobs = _jobs()
        rules = deploy.validate(params["rules_file"])
        previous = _step(lambda: deploy.check(jobs, params["job_name"], params["rules_file"], rules))
        print(f"rules {previous.rules_version} -> {version} on job {previous.job_id}: compatible")
        return str(previous.job_id)

    @task(retries=0)
    def stop_with_savepoint(previous_id: str) -> dict[str, Any]:
        from fraudlake.job import deploy

        jobs = _jobs()
        stopped = _step(lambda: deploy.stop(jobs, jobs.registry.run(previous_id)))
        print(f"stopped with savepoint {stopped['savepoint']}")
        return dict(stopped)

    @task(retries=0)
    def start_new_rules(previous_id: str, stopped: dict[str, Any]) -> str:
        from fraudlake.job import deploy

        params = _params()
        jobs = _jobs()
        previous = jobs.registry.run(previous_id)
        job_id = _step(
            lambda: deploy.start(
                jobs, previous, params["rules_file"], stopped["savepoint"], params["requested_by"]
            )
        )
        print(f"new rules running as job {job_id}")
        return str(job_id)

    @task(retries=0)
    def health_gate(job_id: str, version: str, stopped: dict[str, Any]) -> str:
        from fraudlake.job import deploy

        params = _params()
        gate = _step(
            lambda: deploy.health_gate(_jobs(), job_id, version, stopped["marks"], params["gate_timeout_s"])
        )
        print(gate.summary())
        return str(gate.summary())

    @task(retries=0, trigger_rule="one_failed")
    def rollback() -> str | None:
        from fraudlake.job import deploy

        ti = get_current_context()["ti"]
        previous_id = ti.xcom_pull(task_ids="check_compatible")
        if not previous_id:
            print("the job was not touched: nothing to roll back")
            return None
        jobs = _jobs()
        done = _step(lambda: deploy.rollback(jobs, jobs.registry.run(previous_id), _params()["requested_by"]))
        print(done or "the job still runs the previous rules: nothing to roll back")
        return str(done) if done else None

    @task(retries=0, trigger_rule="all_done")
    def record() -> None:
        ti = get_current_context()["ti"]
        params = _params()
        errors = {step: ti.xcom_pull(task_ids=step, key="error") for step in (*STEPS, "rollback")}
        failed = next(((step, error) for step, error in errors.items() if error), None)
        gate = ti.xcom_pull(task_ids="health_gate")
        rolled_back = ti.xcom_pull(task_ids="rollback")
        stopped = ti.xcom_pull(task_ids="stop_with_savepoint") or {}
        if gate and not failed:
            result, detail = "deployed", gate
        elif failed and failed[0] in ("validate_rules", "check_compatible"):
            result, detail = "refused", f"{failed[0]}: {failed[1]}"
        elif failed and failed[0] != "rollback" and rolled_back:
            result, detail = "rolled_back", f"{failed[0]}: {failed[1]}\n{rolled_back}"
        else:
            why = f"{failed[0]}: {failed[1]}" if failed else "a step did not run (see the task logs)"
            result, detail = "failed", why
        from fraudlake.job.registry import Outcome

        jobs = _jobs()
        job = jobs.find(params["job_name"])
        version = ti.xcom_pull(task_ids="validate_rules")
        outcome = Outcome(result, detail, version, stopped.get("savepoint"), job["jid"] if job else None)
        jobs.registry.deployment_ended(params["job_name"], str(get_current_context()["run_id"]), outcome)
        print(f"{result}: {detail}")
        if result != "deployed":
            raise RuntimeError(f"deploy {result}: {detail}")

    version = validate_rules()
    previous = check_compatible(version)
    stopped = stop_with_savepoint(previous)
    started = start_new_rules(previous, stopped)
    gated = health_gate(started, version, stopped)
    undo = rollback()
    [previous, stopped, started, gated] >> undo
    [version, previous, stopped, started, gated, undo] >> record()


rules_deploy()
