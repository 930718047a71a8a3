"""The scoring job's lifecycle on the real cluster, under traffic: crashes, rules deploys, savepoints.

After each fault or deploy the job's topics are read whole, read_committed, as a user would check
them: every payment has exactly one decision or one dead letter, and every alerted payment exactly
one alert once Silver dedupes by alert_id.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlake.platform import process
from fraudlake.platform.airflow import Airflow
from fraudlake.platform.context import Context
from fraudlake.platform.flink import Flink
from fraudlake.platform.supervision import Store
from fraudlake.rules import ruleset
from fraudlake_flink.control import Jobs
from fraudlake_flink.spec import JOB_NAME
from tests.integration.conftest import fraudlake
from tests.integration.scoring_harness import Ledger, ScoringJob, Traffic, ledger


@pytest.fixture
def job(ctx: Context) -> Iterator[ScoringJob]:
    # checkpoints every 2 s: a gate's two checkpoints and read_committed results come sooner
    scoring = ScoringJob.create(ctx, checkpoint_interval_ms=2_000)
    yield scoring
    scoring.close()


def _checkpoints(jobs: Jobs, job_id: str, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while jobs.flink.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"] < at_least:
        assert time.monotonic() < deadline, f"job {job_id}: fewer than {at_least} checkpoints in {timeout} s"
        time.sleep(0.5)


def _running(jobs: Jobs, job_id: str, timeout: float = 180) -> float:
    """Seconds until the job and every task are RUNNING again (a restart passes through RESTARTING)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            job = jobs.flink.rest(f"/jobs/{job_id}")
            if job["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in job["vertices"]):
                return time.monotonic() - began
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not RUNNING within {timeout} s")


def _platform_job_back(jobs: Jobs, lost: str, timeout: float) -> dict[str, Any]:
    """The platform's job as the supervisor submitted it again after `lost` went with its
    JobManager, once RUNNING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = jobs.find(JOB_NAME)
        except OSError:
            found = None
        if found and found["jid"] != lost and found["state"] == "RUNNING":
            return found
        time.sleep(0.5)
    raise AssertionError(f"the supervisor did not bring {JOB_NAME} back within {timeout} s")


def _poll(get: Callable[[], Any], timeout: float) -> Any:
    """The first truthy `get()` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := get()):
        assert time.monotonic() < deadline, f"nothing within {timeout} s"
        time.sleep(0.5)
    return found


def _kill(flink: Flink, proc: str) -> None:
    pid = flink.running()[proc]
    assert pid is not None, f"{proc} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process.alive(pid):
        assert time.monotonic() < deadline, f"{proc} (pid {pid}) survived SIGKILL"
        time.sleep(0.1)


def _assert_nothing_lost_or_doubled(found: Ledger, traffic: Traffic) -> None:
    sent = traffic.sent
    assert len(found.payments) == sent, "the traffic's payments are all on the topic"
    assert not found.unaccounted(), found.unaccounted()[:5]
    assert sum(found.dead_letters.values()) >= sent // 97, "the malformed ones went to the DLQ"
    assert set(found.alerts) == found.alerted, "an alert for every alerted decision, and for no other"
    assert all(len(ids) == 1 for ids in found.alerts.values())
    assert sum(found.first_payments.values()) == len(traffic.customers), "customer state carried over"


def test_killed_taskmanager_and_jobmanager_lose_and_double_nothing(job: ScoringJob) -> None:
    flink = job.jobs.flink
    first = job.start()
    with Traffic(job) as traffic:
        _checkpoints(job.jobs, first.job_id, 2)

        began = time.monotonic()
        _kill(flink, "flink-taskmanager")  # nobody runs `up`: the supervisor brings it back
        _running(job.jobs, first.job_id, timeout=120)
        print(f"TaskManager kill: job RUNNING again {time.monotonic() - began:.1f} s after the kill")
        _checkpoints(job.jobs, first.job_id, 4)

        began = time.monotonic()
        platform_job = job.jobs.find(JOB_NAME)
        assert platform_job is not None, "up started the platform's own job"
        _kill(flink, "flink-jobmanager")
        supervised = _platform_job_back(job.jobs, platform_job["jid"], timeout=180)
        print(f"JobManager kill: the platform's job RUNNING again {time.monotonic() - began:.1f} s after it")
        store = Store.of(job.jobs.ctx)
        restarted = _poll(lambda: "job" in store.states() and store.states()["job"].last, 60)
        assert "(resumed from checkpoint " in restarted, (restarted, supervised)
        resumed = job.jobs.start(job.spec)  # as the supervisor did for the platform's own job
        assert resumed.resumed_from is not None and resumed.history is None
        assert (resumed.resumed_from.kind, resumed.resumed_from.job_id) == ("checkpoint", first.job_id)
        print(f"JobManager kill: job RUNNING again {time.monotonic() - began:.1f} s after the kill")
        _checkpoints(job.jobs, resumed.job_id, 2)
    job.advance(int(time.time() * 1000) + 60_000)
    _assert_nothing_lost_or_doubled(ledger(job), traffic)


def _rules(tmp_path: Path, version: str, **points: Any) -> Path:
    document = yaml.safe_load(ruleset.DEFAULT_RULES.read_text())
    document["version"] = version
    for rule, value in points.items():
        document["rules"][rule]["points"] = value
    path = tmp_path / f"{version}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _deploy(airflow: Airflow, job: ScoringJob, rules: Path, gate_timeout_s: int = 120) -> Any:
    conf = {
        "rules_file": str(rules),
        "job_name": job.spec.name,
        "gate_timeout_s": gate_timeout_s,
        "requested_by": "test",
    }
    return airflow.wait_for_run("rules_deploy", airflow.trigger("rules_deploy", conf), timeout=600)


def test_rules_deploy_rollback_and_savepoints_under_traffic_lose_and_double_nothing(
    job: ScoringJob, ctx: Context, tmp_path: Path
) -> None:
    airflow, registry, name = Airflow(ctx), job.jobs.registry, job.spec.name
    first = job.start()
    with Traffic(job) as traffic:
        _checkpoints(job.jobs, first.job_id, 2)

        deployed = _deploy(airflow, job, _rules(tmp_path, "v2-deploy", VELOCITY=45))
        assert deployed.state == "success", deployed.failures
        record = registry.deployments(name)[0]
        assert (record.result, record.rules_before, record.rules_after) == ("deployed", "v1", "v2-deploy")
        assert record.requested_by == "test" and record.job_before == first.job_id
        live = job.jobs.find(name)
        assert live is not None and record.job_after == live["jid"] != first.job_id
        new_run = registry.run(live["jid"])
        assert new_run is not None and new_run.started_from == record.savepoint
        assert registry.savepoints(name)[0].kind == "pre-deploy"
        print(f"deploy: {deployed.seconds:.0f} s from trigger to end; {record.detail}")

        broken = _rules(tmp_path, "v3-broken", VELOCITY="many")
        refused = _deploy(airflow, job, broken)
        assert refused.state == "failed" and "validate_rules" in refused.failures
        record = registry.deployments(name)[0]
        assert record.result == "refused" and "rules.VELOCITY.points" in record.detail, record.detail
        untouched = job.jobs.find(name)
        assert untouched is not None and untouched["jid"] == live["jid"]

        # the new rules' job loses its TaskManager as soon as its tasks run (before that, a new
        # TaskManager would just take them): it cannot pass the gate (2 checkpoints, 2 s apart)
        # without a restart, and the deploy must roll back to v2-deploy
        conf = {"rules_file": str(_rules(tmp_path, "v4-crashed", VELOCITY=50)), "job_name": name,
                "gate_timeout_s": 120, "requested_by": "test"}  # fmt: skip
        run_id = airflow.trigger("rules_deploy", conf)
        deadline = time.monotonic() + 300
        while registry.runs(name)[0].rules_version != "v4-crashed":
            assert time.monotonic() < deadline, "the new rules were never submitted"
            time.sleep(0.2)
        crashing = registry.runs(name)[0].job_id
        _running(job.jobs, crashing)
        _kill(job.jobs.flink, "flink-taskmanager")
        restarted = fraudlake("up", "--no-demo")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        rolled = airflow.wait_for_run("rules_deploy", run_id, timeout=600)
        assert rolled.state == "failed", rolled.failures
        assert {"start_new_rules", "health_gate"} & set(rolled.failures), rolled.failures
        record = registry.deployments(name)[0]
        assert record.result == "rolled_back", record.detail
        assert "rolled back to rules v2-deploy" in record.detail
        back = job.jobs.find(name)
        assert back is not None and back["state"] == "RUNNING"
        back_run = registry.run(back["jid"])
        assert back_run is not None and back_run.rules_version == "v2-deploy"
        _checkpoints(job.jobs, back["jid"], 2)

        before = {s.id: s for s in registry.savepoints(name)}
        conf = {"job_name": name, "keep": 1, "max_age_hours": 0}
        saved = airflow.wait_for_run("flink_savepoints", airflow.trigger("flink_savepoints", conf))
        assert saved.state == "success", saved.failures
        after = registry.savepoints(name)
        newest = after[0]
        assert newest.kind == "periodic" and newest.state == "completed" and newest.job_id == back["jid"]
        assert newest.size_bytes and job.jobs.storage.exists(str(newest.path))
        kept = {s.id for s in after}
        last_pre_deploy = next(s for s in after if s.kind == "pre-deploy")
        # the rollback resumed from the crashed job's stop savepoint or, had it none, its checkpoint
        assert back_run.started_from and job.jobs.storage.exists(back_run.started_from), (
            "the running job's start point is kept"
        )
        assert last_pre_deploy.id == max(s.id for s in before.values() if s.kind == "pre-deploy")
        pruned = [s for i, s in before.items() if i not in kept]
        assert pruned, "the older pre-deploy savepoint goes"
        assert not any(s.path and job.jobs.storage.exists(s.path) for s in pruned), (
            "data deleted with the row"
        )
    job.advance(int(time.time() * 1000) + 60_000)
    found = ledger(job)
    _assert_nothing_lost_or_doubled(found, traffic)
    assert found.rules_versions["v1"] and found.rules_versions["v2-deploy"], found.rules_versions


def test_cli_deploy_refuses_an_incompatible_rules_change_before_touching_the_job(
    ctx: Context, tmp_path: Path
) -> None:
    jobs = Jobs(ctx)
    running = jobs.find(JOB_NAME)
    assert running is not None, "up runs the platform's scoring job"
    document = yaml.safe_load(ruleset.DEFAULT_RULES.read_text())
    document["version"] = "v1-deeper"
    document["rules"]["VELOCITY"]["min_payments"] = document["rules"]["VELOCITY"]["min_payments"] + 2
    rules = tmp_path / "deeper.yaml"
    rules.write_text(yaml.safe_dump(document))

    done = fraudlake("rules", "deploy", str(rules), "--wait")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "triggered rules_deploy run manual__" in done.stdout
    assert "task check_compatible failed" in done.stderr and "VELOCITY.min_payments" in done.stderr
    after = jobs.find(JOB_NAME)
    assert after is not None and after["jid"] == running["jid"], "the job was not touched"
    history = json.loads(fraudlake("job", "history", "--json").stdout)
    latest = history["deployments"][0]
    assert (latest["result"], latest["rules_before"], latest["rules_after"]) == ("refused", "v1", "v1-deeper")
    assert "fraudlake job start --fresh" in latest["detail"]
    assert history["runs"][0]["job_id"] == running["jid"]

    missing = fraudlake("rules", "deploy", str(tmp_path / "nowhere.yaml"))
    assert missing.returncode == 1 and "nowhere.yaml does not exist" in missing.stderr
