"""The job lifecycle's pure decisions: where a job resumes from, and which savepoints retention keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from fraudlake.rules import ruleset
from fraudlake.rules.ruleset import RuleSet
from fraudlake_flink.deploy import incompatibility, outcome
from fraudlake_flink.registry import JobRun, Savepoint
from fraudlake_flink.resume import resume_point
from fraudlake_flink.retention import Policy, orphans, to_prune
from fraudlake_flink.sql import PLAN_VERSION
from fraudlake_flink.storage import StateStorage, Stored

STEPS = ("validate_rules", "check_compatible", "stop_with_savepoint", "start_new_rules", "health_gate")
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CHECKPOINTS = "s3://flink/checkpoints"
SAVEPOINTS = "s3://flink/savepoints"


def _run(job_id: str, minutes: int, started_from: str | None) -> JobRun:
    return JobRun(
        job_id,
        "scoring",
        3,
        "v1",
        "sha",
        "/rules.yaml",
        {},
        started_from,
        "test",
        T0 + timedelta(minutes=minutes),
    )


def _savepoint(
    id: int, minutes: int, kind: str = "periodic", state: str = "completed", job_id: str = "a"
) -> Savepoint:
    at = T0 + timedelta(minutes=minutes)
    path = f"s3://flink/savepoints/savepoint-{job_id * 6}-{id:012x}"
    return Savepoint(id, "scoring", job_id, 3, "v1", "sha", kind, state, path, 10, at, at, 5, "")


class FakeRegistry:
    def __init__(self, runs: list[JobRun], savepoints: list[Savepoint]) -> None:
        self._runs = sorted(runs, key=lambda r: r.started_at or T0, reverse=True)
        self._savepoints = sorted(savepoints, key=lambda s: s.triggered_at, reverse=True)

    def runs(self, job_name: str) -> list[JobRun]:
        return self._runs

    def savepoints(self, job_name: str) -> list[Savepoint]:
        return self._savepoints


class FakeStorage(StateStorage):
    """What storage holds: the latest checkpoint per job id and savepoints, as minutes after T0."""

    def __init__(self, checkpoints: dict[str, int], savepoints: list[tuple[Savepoint, int]] = ()) -> None:  # type: ignore[assignment]
        self.checkpoints = checkpoints
        self.stored = savepoints

    def latest_checkpoint(self, checkpoint_dir: str, job_id: str) -> Stored | None:
        if job_id not in self.checkpoints:
            return None
        return Stored(f"{checkpoint_dir}/{job_id}/chk-7", T0 + timedelta(minutes=self.checkpoints[job_id]))

    def savepoints(self, savepoint_dir: str, job_ids: set[str]) -> list[tuple[str, Stored]]:
        return [
            (s.job_id, Stored(str(s.path), T0 + timedelta(minutes=m)))
            for s, m in self.stored
            if s.job_id in job_ids
        ]


def _resume(
    runs: list[JobRun],
    savepoints: list[Savepoint],
    checkpoints: dict[str, int],
    stored: dict[int, int] | None = None,
) -> Any:
    """`stored`: savepoint id -> minutes its data was written (default: when the registry says)."""
    in_storage = [
        (s, (stored or {}).get(s.id, (s.triggered_at - T0).seconds // 60))
        for s in savepoints
        if s.state == "completed" or (stored and s.id in stored)
    ]
    registry = FakeRegistry(runs, savepoints)
    storage = FakeStorage(checkpoints, in_storage)
    return resume_point(registry, storage, CHECKPOINTS, SAVEPOINTS, "scoring")  # type: ignore[arg-type]


def test_a_crashed_job_resumes_from_its_last_checkpoint_not_an_older_savepoint() -> None:
    point = _resume([_run("a", 0, None)], [_savepoint(1, 10)], {"a": 30})
    assert (point.location, point.kind, point.job_id) == (f"{CHECKPOINTS}/a/chk-7", "checkpoint", "a")


def test_a_newer_savepoint_wins_over_the_last_checkpoint() -> None:
    point = _resume([_run("a", 0, None)], [_savepoint(1, 40, kind="stop")], {"a": 30})
    assert (point.location, point.kind) == (_savepoint(1, 40).path, "stop savepoint")


def test_points_are_dated_by_storage_not_by_when_someone_recorded_them() -> None:
    """The registry saw the savepoint complete at minute 40, but its data was written at 29: the
    checkpoint of minute 30 is newer, and resuming the savepoint would score minute 29-30 twice."""
    point = _resume([_run("a", 0, None)], [_savepoint(1, 40)], {"a": 30}, stored={1: 29})
    assert point.kind == "checkpoint"


def test_a_savepoint_whose_recorder_gave_up_still_counts() -> None:
    written = _savepoint(1, 40, kind="stop")
    gave_up = replace(written, state="failed", path=None, error="did not complete within 300 s")
    storage = FakeStorage({"a": 30}, [(written, 41)])
    registry = FakeRegistry([_run("a", 0, None)], [gave_up])
    point = resume_point(registry, storage, CHECKPOINTS, SAVEPOINTS, "scoring")  # type: ignore[arg-type]
    assert point is not None
    assert (point.location, point.kind) == (written.path, "savepoint (not in the registry)")


def test_a_run_that_died_before_its_first_checkpoint_falls_back_to_its_lineage() -> None:
    pre_deploy = _savepoint(1, 45, kind="pre-deploy")
    runs = [_run("a", 0, None), _run("b", 50, str(pre_deploy.path))]
    assert _resume(runs, [pre_deploy], {"a": 40}).kind == "pre-deploy savepoint"


def test_a_fresh_start_leaves_the_older_lineage_behind() -> None:
    runs = [_run("a", 0, None), _run("b", 60, None)]
    assert _resume(runs, [_savepoint(1, 30)], {"a": 50}) is None
    assert _resume(runs, [_savepoint(1, 30)], {"a": 50, "b": 70}).job_id == "b"


def test_no_run_no_resume_point() -> None:
    assert _resume([], [], {}) is None


POLICY = Policy(keep_last=2, max_age=timedelta(hours=1))


def _pruned(savepoints: list[Savepoint], now_minutes: int, running_from: str | None = None) -> list[int]:
    return [s.id for s in to_prune(savepoints, T0 + timedelta(minutes=now_minutes), POLICY, running_from)]


def test_retention_keeps_the_newest_and_the_young_and_prunes_oldest_first() -> None:
    savepoints = [_savepoint(n, n * 10) for n in range(1, 7)]  # minutes 10..60
    assert _pruned(savepoints, 90) == [1, 2, 3]  # 4 is younger than an hour; 5, 6 the newest two
    assert _pruned(savepoints, 1000) == [1, 2, 3, 4]


def test_retention_keeps_the_running_jobs_start_and_the_last_pre_deploy_savepoint() -> None:
    savepoints = [
        _savepoint(1, 0, kind="pre-deploy"),
        _savepoint(2, 10, kind="pre-deploy"),
        _savepoint(3, 20, kind="stop"),
        _savepoint(4, 30),
        _savepoint(5, 40),
        _savepoint(6, 50),
    ]
    assert _pruned(savepoints, 1000, running_from=_savepoint(3, 20).path) == [1, 4]


def test_retention_prunes_old_failed_savepoints_and_leaves_one_in_progress_for_an_hour() -> None:
    savepoints = [
        replace(_savepoint(1, 0, state="failed"), path=None),
        _savepoint(2, 5, state="in_progress"),
        _savepoint(3, 10),
        _savepoint(4, 20),
    ]
    young = Policy(keep_last=2, max_age=timedelta(0))
    assert [s.id for s in to_prune(savepoints, T0 + timedelta(minutes=30), young, None)] == [1]
    assert _pruned(savepoints, 1000) == [1, 2], "an hour later its recorder is gone"


def test_unrecorded_savepoint_data_goes_when_old_unless_the_job_would_resume_from_it() -> None:
    recorded, stray, resume = _savepoint(1, 0), _savepoint(2, 10), _savepoint(3, 20)
    stored = [
        Stored(str(s.path), T0 + timedelta(minutes=m)) for s, m in ((recorded, 0), (stray, 10), (resume, 20))
    ]
    now = T0 + timedelta(minutes=1000)
    assert [o.location for o in orphans(stored, [recorded], now, POLICY, resume.path)] == [stray.path]
    assert orphans(stored, [recorded], T0 + timedelta(minutes=30), POLICY, None) == []


def test_a_deploys_outcome_names_what_failed_and_whether_the_rollback_held() -> None:
    ok = dict.fromkeys(STEPS)
    assert outcome({**ok, "rollback": None}, "healthy after 3 s", None) == ("deployed", "healthy after 3 s")
    refused = outcome({**ok, "validate_rules": "rules.VELOCITY.points: expected an integer"}, None, None)
    assert refused == ("refused", "validate_rules: rules.VELOCITY.points: expected an integer")
    gate = {**ok, "health_gate": "did not prove healthy within 1 s"}
    result, detail = outcome(gate, None, "rolled back to rules v1: job j2 resumed from checkpoint ...")
    assert result == "rolled_back" and detail.startswith("health_gate: did not prove healthy")
    result, detail = outcome({**gate, "rollback": "submitting failed"}, None, None)
    assert result == "failed" and "the rollback failed too, the job may be down: submitting failed" in detail
    assert outcome({**ok, "stop_with_savepoint": "savepoint failed"}, None, None)[0] == "failed"


def test_local_storage_finds_the_highest_completed_checkpoint(tmp_path: Path) -> None:
    job = tmp_path / "checkpoints" / "job-1"
    for number, complete in ((3, True), (12, True), (13, False)):
        folder = job / f"chk-{number}"
        folder.mkdir(parents=True)
        (folder / ("_metadata" if complete else "op-state")).write_bytes(b"x" * number)
    storage = StateStorage()
    found = storage.latest_checkpoint((tmp_path / "checkpoints").as_uri(), "job-1")
    assert found is not None and found.location == (job / "chk-12").as_uri()
    assert storage.size(found.location) == 12
    assert storage.delete(found.location) == 1 and not storage.exists(found.location)
    assert storage.latest_checkpoint((tmp_path / "checkpoints").as_uri(), "job-2") is None


def _rules(**changes: Any) -> RuleSet:
    document = yaml.safe_load(ruleset.DEFAULT_RULES.read_text())
    for rule, params in changes.items():
        if params is None:
            del document["rules"][rule]
        else:
            document["rules"][rule] |= params
    return ruleset.parse(document)


def test_a_deploy_may_change_points_and_parameters_but_not_the_state_layout() -> None:
    v1 = _rules()
    assert (
        incompatibility(PLAN_VERSION, v1, _rules(VELOCITY={"points": 45}, UNUSUAL_HOUR={"from_hour": 1}))
        is None
    )
    assert "plan 1" in str(incompatibility(1, v1, v1))
    deeper = incompatibility(PLAN_VERSION, v1, _rules(VELOCITY={"min_payments": 5}))
    assert deeper is not None and "VELOCITY.min_payments 3 -> 5" in deeper
    fewer = incompatibility(PLAN_VERSION, v1, _rules(GEO_MISMATCH=None))
    assert fewer is not None and "(-GEO_MISMATCH)" in fewer


def test_local_storage_finds_completed_savepoints_by_their_job_id_prefix(tmp_path: Path) -> None:
    root = tmp_path / "savepoints"
    for folder, complete in (
        ("savepoint-abcdef-0123456789ab", True),
        ("savepoint-abcdef-ffffffffffff", False),
    ):
        (root / folder).mkdir(parents=True)
        (root / folder / ("_metadata" if complete else "part-0")).write_bytes(b"x")
    (root / "savepoint-999999-0123456789ab").mkdir()
    (root / "savepoint-999999-0123456789ab" / "_metadata").write_bytes(b"x")
    found = StateStorage().savepoints(root.as_uri(), {"abcdef" + "0" * 26})
    assert [(job_id, s.location) for job_id, s in found] == [
        ("abcdef" + "0" * 26, (root / "savepoint-abcdef-0123456789ab").as_uri())
    ]


def test_the_platform_job_restarts_with_the_rules_it_last_ran_and_todays_settings(tmp_path: Path) -> None:
    """After a deploy, `up` and the supervisor keep the deployed rules; other settings are current."""
    from types import SimpleNamespace

    from fraudlake.config import Settings
    from fraudlake.platform.context import Context
    from fraudlake_flink.command import live_spec

    ctx = Context(Settings.from_env({"FRAUDLAKE_HOME": str(tmp_path), "FRAUDLAKE_JOB_PARALLELISM": "2"}))
    deployed = JobRun("j2", "fraudlake-scoring", PLAN_VERSION, "v2", "", "/kept/v2.yaml", {}, None, "admin")
    jobs = SimpleNamespace(registry=SimpleNamespace(runs=lambda name: [deployed]))
    spec = live_spec(jobs, ctx)  # type: ignore[arg-type]
    assert (spec.rules_path, spec.parallelism) == ("/kept/v2.yaml", 2)
    never_ran = SimpleNamespace(registry=SimpleNamespace(runs=lambda name: []))
    assert live_spec(never_ran, ctx).rules_path == str(ruleset.DEFAULT_RULES)  # type: ignore[arg-type]
