"""
### rules_deploy: put a new rules version live on the running scoring job, or roll it back

Triggered by hand (the form asks for the rules file) or by `fraudlake rules deploy FILE [--wait]`;
one run at a time. The steps (the logic lives in `fraudlake_flink.deploy`):

1. **validate_rules**: the rules file as `job start` reads it; a bad file stops here, naming the
   field. A valid one is copied under its hash: every later step reads that copy.
2. **check_compatible**: the running job's plan version, set of rule ids and velocity depth must
   carry over into the new rules (its per-customer state restores), under a new rules version; an
   incompatible change is refused with the way out, before the job is touched.
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
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from fraudlake.config import Settings
from fraudlake_flink.spec import JOB_NAME

STEPS = ("validate_rules", "check_compatible", "stop_with_savepoint", "start_new_rules", "health_gate")


def _params() -> dict[str, Any]:
    context = get_current_context()
    params = dict(context["params"])
    user = getattr(context["dag_run"], "triggering_user_name", None)
    params["requested_by"] = params.get("requested_by") or user or "airflow"
    return params


def _step(action: Callable[[Any, dict[str, Any]], Any]) -> Any:
    """Run one step with the platform's jobs and the run's parameters; a failure is kept as XCom
    `error` (for `record`) before the task fails with it."""
    from fraudlake_flink.control import Jobs

    try:
        return action(Jobs.from_env(), _params())
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
        "rules_file": Param(
            "",
            type="string",
            minLength=1,
            description="Path of the rules YAML to put live, on the Airflow host",
        ),
        "job_name": Param(JOB_NAME, type="string", description="The scoring job (pipeline.name)"),
        "gate_timeout_s": Param(
            Settings.from_env().deploy_gate_timeout_s,
            type="integer",
            minimum=1,
            description="Seconds the new rules have to prove healthy before the deploy rolls back",
        ),
        "requested_by": Param(
            None, type=["null", "string"], description="Who asks (empty: the triggering user)"
        ),
    },
)
def rules_deploy() -> None:
    @task(retries=0)
    def validate_rules() -> dict[str, str]:
        def run(jobs: Any, params: dict[str, Any]) -> dict[str, str]:
            from pathlib import Path

            from fraudlake_flink import deploy
            from fraudlake_flink.registry import rules_sha256

            path = Path(params["rules_file"])
            jobs.registry.deployment_started(
                params["job_name"],
                str(get_current_context()["run_id"]),
                params["requested_by"],
                deploy.running_run(jobs, params["job_name"]),
                str(path),
                rules_sha256(path) if path.is_file() else "",
            )
            rules = deploy.validate(str(path))
            return {"version": rules.version, "rules_path": str(jobs.keep_rules(path, rules.version))}

        return dict(_step(run))

    @task(retries=0)
    def check_compatible(rules: dict[str, str]) -> str:
        def run(jobs: Any, params: dict[str, Any]) -> str:
            from fraudlake_flink import deploy

            new = deploy.validate(rules["rules_path"])
            previous = deploy.check(jobs, params["job_name"], rules["rules_path"], new)
            print(f"rules {previous.rules_version} -> {new.version} on job {previous.job_id}: compatible")
            return str(previous.job_id)

        return str(_step(run))

    @task(retries=0)
    def stop_with_savepoint(previous_id: str) -> dict[str, Any]:
        def run(jobs: Any, params: dict[str, Any]) -> dict[str, Any]:
            from fraudlake_flink import deploy

            stopped = deploy.stop(jobs, jobs.registry.run(previous_id))
            print(f"stopped with savepoint {stopped['savepoint']}")
            return dict(stopped)

        return dict(_step(run))

    @task(retries=0)
    def start_new_rules(previous_id: str, rules: dict[str, str], stopped: dict[str, Any]) -> str:
        def run(jobs: Any, params: dict[str, Any]) -> str:
            from fraudlake_flink import deploy

            previous = jobs.registry.run(previous_id)
            job_id = deploy.start(
                jobs, previous, rules["rules_path"], stopped["savepoint"], params["requested_by"]
            )
            print(f"new rules running as job {job_id}")
            return str(job_id)

        return str(_step(run))

    @task(retries=0)
    def health_gate(job_id: str, rules: dict[str, str], stopped: dict[str, Any]) -> str:
        def run(jobs: Any, params: dict[str, Any]) -> str:
            from fraudlake_flink import deploy

            gate = deploy.health_gate(
                jobs, job_id, rules["version"], stopped["marks"], params["gate_timeout_s"]
            )
            print(gate.summary())
            return gate.summary()

        return str(_step(run))

    @task(retries=0, trigger_rule="one_failed")
    def rollback() -> str | None:
        previous_id = get_current_context()["ti"].xcom_pull(task_ids="check_compatible")
        if not previous_id:
            print("the job was not touched: nothing to roll back")
            return None

        def run(jobs: Any, params: dict[str, Any]) -> str | None:
            from fraudlake_flink import deploy

            done = deploy.rollback(jobs, jobs.registry.run(previous_id), params["requested_by"])
            print(done or "the job still runs the previous rules: nothing to roll back")
            return done

        done = _step(run)
        return str(done) if done else None

    @task(retries=0, trigger_rule="all_done")
    def record() -> None:
        def run(jobs: Any, params: dict[str, Any]) -> tuple[str, str]:
            from fraudlake_flink import deploy
            from fraudlake_flink.registry import Outcome

            ti = get_current_context()["ti"]
            errors = {step: ti.xcom_pull(task_ids=step, key="error") for step in (*STEPS, "rollback")}
            result, detail = deploy.outcome(
                errors, ti.xcom_pull(task_ids="health_gate"), ti.xcom_pull(task_ids="rollback")
            )
            rules = ti.xcom_pull(task_ids="validate_rules") or {}
            stopped = ti.xcom_pull(task_ids="stop_with_savepoint") or {}
            job = jobs.find(params["job_name"])
            jobs.registry.deployment_ended(
                params["job_name"],
                str(get_current_context()["run_id"]),
                Outcome(
                    result,
                    detail,
                    rules.get("version"),
                    stopped.get("savepoint"),
                    job["jid"] if job else None,
                ),
            )
            return result, detail

        result, detail = _step(run)
        print(f"{result}: {detail}")
        if result != "deployed":
            raise RuntimeError(f"deploy {result}: {detail}")

    rules = validate_rules()
    previous = check_compatible(rules)
    stopped = stop_with_savepoint(previous)
    started = start_new_rules(previous, rules, stopped)
    gated = health_gate(started, rules, stopped)
    undo = rollback()
    [previous, stopped, started, gated] >> undo
    [rules, previous, stopped, started, gated, undo] >> record()


rules_deploy()
