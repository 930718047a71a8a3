"""Putting a new rules version live on the running scoring job: checked, gated, rolled back on failure.

The rules_deploy DAG runs one task per step (`fraudlake rules deploy FILE` triggers it):

1. validate the rules file as `job start` does: a bad file stops here, naming the field;
2. check it against the running job: same plan version (its state must restore), the same set
   of rule ids (the columns the rules read are in the rows the windows keep) and the same
   velocity depth (the job keeps the last N-1 payment times per customer; another N is another
   state shape), and a rules version other than the one it runs (the gate tells the new rules'
   decisions by it);
3. stop the job with a pre-deploy savepoint; start the new rules from it;
4. health gate: every task RUNNING, checkpoints completing, decisions with the new rules version
   on payment-scores (read_committed), no restart, within a timeout;
5. on a failure after the stop, roll back: the previous rules resume from the resume rule's point
   (fraudlake_flink/resume.py). That is the pre-deploy savepoint if the new job committed nothing, else the
   new job's own latest checkpoint: restoring the pre-deploy savepoint after the new job had
   committed decisions would score those payments twice;
6. record the deployment (ops.deployments) with its outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fraudlake.platform.kafka import high_watermarks
from fraudlake.rules import ruleset
from fraudlake.rules.history import velocity_count
from fraudlake.rules.ruleset import RuleSet
from fraudlake_flink.control import JobError, Jobs
from fraudlake_flink.registry import JobRun, rules_sha256
from fraudlake_flink.spec import JobSpec
from fraudlake_flink.sql import PLAN_VERSION

MIN_CHECKPOINTS = 2


class DeployRefused(Exception):
    """The new rules cannot go live on the running job; the message says why and the way out."""


def validate(rules_file: str) -> RuleSet:
    """The rules file, valid and, when it is a proposed version (a tuning run's candidate),
    approved by a person; DeployRefused otherwise."""
    try:
        rules = ruleset.load(Path(rules_file))
        ruleset.require_approval(rules, rules_file)
    except ruleset.RulesError as exc:
        raise DeployRefused(f"rules: {exc}") from None
    return rules


def running_run(jobs: Jobs, job_name: str) -> JobRun | None:
    """The registry's record of the job running now, if there is one."""
    job = jobs.find(job_name)
    return jobs.registry.run(job["jid"]) if job else None


def check(jobs: Jobs, job_name: str, rules_file: str, rules: RuleSet) -> JobRun:
    """The running job's record, if the new rules can take its place; else DeployRefused."""
    job = jobs.find(job_name)
    if job is None or job["state"] != "RUNNING":
        state = job["state"] if job else "not running"
        raise DeployRefused(
            f"{job_name} is {state}: a deploy replaces a running job. Start it with the new rules "
            f"instead: fraudlake job start --rules {rules_file}"
        )
    run = jobs.run_of(job)
    why = incompatibility(run.plan_version, ruleset.load(Path(run.rules_path)), rules)
    if why:
        raise DeployRefused(
            f"{why}. Way out: deploy by hand, rebuilding the customers' history from Bronze: fraudlake "
            f"job stop --savepoint; fraudlake lake load; fraudlake job start --fresh --rules {rules_file}"
        )
    if run.rules_version == rules.version:
        same = (
            "this rules file" if run.rules_sha256 == rules_sha256(Path(rules_file)) else "another file of it"
        )
        raise DeployRefused(
            f"{job_name} already runs rules {rules.version} ({same}): give the new rules a version of their "
            "own, so that every decision names the rules that made it"
        )
    return run


def incompatibility(plan_before: int, before: RuleSet, after: RuleSet) -> str | None:
    """Why `after` cannot restore the state of a job running `before` (None: it can)."""
    if plan_before != PLAN_VERSION:
        return (
            f"the running job runs plan {plan_before}, this version of fraudlake generates plan "
            f"{PLAN_VERSION}: its state cannot be restored into the new plan"
        )
    if velocity_count(before) != velocity_count(after):
        return (
            f"VELOCITY.min_payments {velocity_count(before)} -> {velocity_count(after)} changes the state "
            "the job keeps per customer (the times of its last payments), which a savepoint cannot carry over"
        )
    added, removed = (
        sorted(set(after.rules) - set(before.rules)),
        sorted(set(before.rules) - set(after.rules)),
    )
    if added or removed:
        change = ", ".join([*(f"+{rule}" for rule in added), *(f"-{rule}" for rule in removed)])
        return (
            f"the new rules change the set of rules ({change}): the columns a rule reads are part of the "
            "rows the job's windows keep in state, so another set of rules is another state layout"
        )
    return None


def stop(jobs: Jobs, previous: JobRun) -> dict[str, Any]:
    """Step 3a: where decisions and payments stood, then stop with a pre-deploy savepoint."""
    spec = JobSpec(**previous.spec)
    marks = {
        "decisions": high_watermarks(spec.bootstrap, spec.scores_topic),
        "payments": high_watermarks(spec.bootstrap, spec.payments_topic),
    }
    savepoint = jobs.stop(previous.job_name, savepoint=True, kind="pre-deploy")
    return {"savepoint": savepoint, "marks": marks, "stopped_at": time.time()}


def start(jobs: Jobs, previous: JobRun, rules_file: str, savepoint: str, requested_by: str) -> str:
    """Step 3b: the new rules from the pre-deploy savepoint; the new job's id."""
    spec = JobSpec(**(previous.spec | {"rules_path": str(Path(rules_file).resolve())}))
    return jobs.start(spec, savepoint=savepoint, started_by=requested_by).job_id


@dataclass(frozen=True)
class Gate:
    seconds: float
    checkpoints: int
    new_decisions: int
    gap_ms: int | None
    """scored_at of the first decision by the new rules minus that of the last by the old ones."""

    def summary(self) -> str:
        gap = (
            f"{self.gap_ms} ms between the last old and the first new decision"
            if self.gap_ms is not None
            else ("no payment arrived to score")
        )
        return (
            f"healthy after {self.seconds:.0f} s: {self.checkpoints} checkpoints, "
            f"{self.new_decisions} decisions by the new rules; {gap}"
        )


def health_gate(
    jobs: Jobs, job_id: str, rules_version: str, marks: dict[str, dict[Any, int]], timeout_s: float
) -> Gate:
    """Step 4: wait until the new job proves healthy; JobError saying what is missing otherwise."""
    from confluent_kafka import Consumer, TopicPartition

    run = jobs.registry.run(job_id)
    assert run is not None
    spec = JobSpec(**run.spec)
    began = time.monotonic()
    consumer = Consumer(
        {
            "bootstrap.servers": spec.bootstrap,
            "group.id": f"fraudlake-deploy-gate-{job_id}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(spec.scores_topic, int(p), o) for p, o in marks["decisions"].items()])
    last_old: int | None = None
    first_new: int | None = None
    new = checkpoints = 0
    baseline: int | None = None
    missing = "nothing checked yet"
    try:
        while time.monotonic() - began < timeout_s:
            for message in consumer.consume(500, timeout=0.5):
                value = message.value()
                if message.error() or value is None:
                    continue
                decision = orjson.loads(value)
                if decision["rules_version"] == rules_version:
                    new += 1
                    first_new = decision["scored_at"] if first_new is None else first_new
                elif first_new is None:
                    last_old = decision["scored_at"]
            job = jobs.flink.rest(f"/jobs/{job_id}")
            restarts = max(_restarts(jobs, job_id), int(job.get("timestamps", {}).get("RESTARTING", 0) > 0))
            if job["state"] != "RUNNING" or restarts:
                raise JobError(
                    f"the new job {job_id} is {job['state']} after {restarts} restart(s)",
                    details=jobs.root_exception(job_id),
                )
            # only checkpoints completed while the gate watches count: a job whose TaskManager died
            # right after its first checkpoints still reads RUNNING until its heartbeats time out
            completed = jobs.flink.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
            baseline = completed if baseline is None else baseline
            checkpoints = completed - baseline
            idle = high_watermarks(spec.bootstrap, spec.payments_topic) == {
                int(p): o for p, o in marks["payments"].items()
            }
            missing = ", ".join(
                reason
                for reason, lacking in (
                    ("every task RUNNING", any(v["status"] != "RUNNING" for v in job["vertices"])),
                    (
                        f"{MIN_CHECKPOINTS} completed checkpoints (have {checkpoints})",
                        checkpoints < MIN_CHECKPOINTS,
                    ),
                    (f"a decision by rules {rules_version} on {spec.scores_topic}", new == 0 and not idle),
                )
                if lacking
            )
            if not missing:
                gap = first_new - last_old if first_new is not None and last_old is not None else None
                return Gate(time.monotonic() - began, checkpoints, new, gap)
            time.sleep(1)
    finally:
        consumer.close()
    raise JobError(f"the new job {job_id} did not prove healthy within {timeout_s:.0f} s: it lacks {missing}")


def _restarts(jobs: Jobs, job_id: str) -> int:
    metrics = jobs.flink.rest(f"/jobs/{job_id}/metrics?get=numRestarts")
    return int(float(metrics[0]["value"])) if metrics else 0


def rollback(jobs: Jobs, previous: JobRun, requested_by: str) -> str | None:
    """Step 5: the previous rules running again; what was done, or None when nothing had to be."""
    job = jobs.find(previous.job_name)
    if job:
        current = jobs.registry.run(job["jid"])
        if current is not None and current.rules_sha256 == previous.rules_sha256:
            return None
        try:
            jobs.stop(previous.job_name, savepoint=True)
        except (JobError, OSError):
            if jobs.find(previous.job_name):  # a failing job takes no savepoint: cancel it
                jobs.stop(previous.job_name, savepoint=False)  # its last checkpoint is retained
    started = jobs.start(JobSpec(**previous.spec), started_by=requested_by)
    origin = started.resumed_from.describe() if started.resumed_from else "a fresh start"
    return f"rolled back to rules {previous.rules_version}: job {started.job_id} resumed from {origin}"


VALIDATION_STEPS = ("validate_rules", "check_compatible")


def outcome(errors: dict[str, str | None], gate: str | None, rolled_back: str | None) -> tuple[str, str]:
    """How a deploy ended, from what its steps left: (result, detail). `errors` maps the steps in
    order, the rollback last, to their error (None: none)."""
    failed = next(((step, error) for step, error in errors.items() if error and step != "rollback"), None)
    rollback_error = errors.get("rollback")
    if gate and not failed and not rollback_error:
        return "deployed", gate
    if failed and failed[0] in VALIDATION_STEPS:
        return "refused", f"{failed[0]}: {failed[1]}"
    why = f"{failed[0]}: {failed[1]}" if failed else "a step did not run (see the task logs)"
    if rollback_error:
        return "failed", f"{why}\nthe rollback failed too, the job may be down: {rollback_error}"
    if rolled_back:
        return "rolled_back", f"{why}\n{rolled_back}"
    return "failed", why
