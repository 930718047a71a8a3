"""`fraudlake job start | stop | status | sql`: the scoring job on the platform's Flink cluster.

A job is known by its name (pipeline.name). Every submission and savepoint is recorded in the
lifecycle registry (fraudlake_flink/registry.py), and `start` resumes from the newest consistent point of the
job's lineage (fraudlake_flink/resume.py): the customers' history (velocity, averages, devices) and the
pending Kafka transactions survive stops, crashes and rule changes.

A checkpoint or savepoint only restores into the plan version (fraudlake_flink/sql.py PLAN_VERSION) that wrote
it, and the registry knows each one's plan. After an upgrade that changes the plan, `start` refuses
the old point with the way out (`--fresh`) rather than letting the job restart forever on state it
cannot read.

The rules file a job runs is copied into the state folder under its hash, so the file a running
job (or its rollback) names never changes under it.
"""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fraudlake import retry
from fraudlake.config import SOURCE_ROOTS
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.flink import Flink
from fraudlake.platform.minio import FLINK, Minio
from fraudlake.platform.postgres import APP_ROLE, STREAM_ROLE, Postgres
from fraudlake.rules import ruleset
from fraudlake_flink import prior, ship
from fraudlake_flink.registry import JobRun, Registry, Savepoint, rules_sha256
from fraudlake_flink.resume import ResumePoint, resume_point
from fraudlake_flink.spec import PASSWORD_ENV, JobSpec
from fraudlake_flink.sql import PLAN_VERSION
from fraudlake_flink.storage import StateStorage, same_location

PROGRAM = Path(__file__).with_name("main.py")
ACTIVE_STATES = {"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "FAILING", "RECONCILING"}
SAVEPOINT_TIMEOUT_S = 300


class JobError(PlatformError):
    """The job could not be submitted, found or stopped; `details` are what Flink said."""

    def __init__(
        self,
        cause: str,
        fix: str = "see `fraudlake logs flink` and the Flink web UI",
        details: list[str] | None = None,
    ) -> None:
        super().__init__("job", cause, fix)
        self.details = details or []

    def render(self) -> str:
        return "\n".join([super().render(), *(f"    {line}" for line in self.details)])


@dataclass(frozen=True)
class Started:
    job_id: str
    resumed_from: ResumePoint | None
    history: prior.PriorHistory | None
    """What Bronze gave a job that started without state (None when it resumed its own)."""


class Jobs:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.flink = Flink(ctx)
        self.registry = Registry(lambda: Postgres(ctx).connect(APP_ROLE))
        s3 = ctx.settings.flink_state_storage == "s3"
        self.storage = StateStorage(Minio(ctx).client(FLINK) if s3 else None)

    @classmethod
    def from_env(cls) -> Jobs:
        """For the DAGs: the platform as the environment (FRAUDLAKE_HOME ...) describes it."""
        from fraudlake.config import Settings

        return cls(Context(Settings.from_env()))

    def find(self, name: str) -> dict[str, Any] | None:
        """The active job of that name, as /jobs/overview lists it."""
        for job in self.flink.rest("/jobs/overview")["jobs"]:
            if job["name"] == name and job["state"] in ACTIVE_STATES:
                return dict(job)
        return None

    def resume_point(self, name: str) -> ResumePoint | None:
        point = resume_point(
            self.registry, self.storage, self.flink.checkpoint_dir, self.flink.savepoint_dir, name
        )
        return point or self._legacy_savepoint(name)

    def _legacy_savepoint(self, name: str) -> ResumePoint | None:
        """The last `job stop --savepoint` of a version before the registry, kept in a state file;
        only while the registry knows no run of the job (an upgrade must not drop that state)."""
        legacy = self.ctx.data("jobs") / f"{name}.json"
        if not legacy.exists() or self.registry.runs(name):
            return None
        state = json.loads(legacy.read_text())
        if not state.get("last_savepoint"):
            return None
        return ResumePoint(
            state["last_savepoint"], "stop savepoint (recorded before the registry)", "?",
            state.get("savepoint_plan", 1), "?", None,
        )  # fmt: skip

    def start(
        self, spec: JobSpec, savepoint: str | None = None, fresh: bool = False, started_by: str = ""
    ) -> Started:
        """Submit the job; it resumes from `savepoint`, else from the resume rule's point unless
        `fresh`. Without one, the customers' earlier history is first taken from Bronze (prior.py)."""
        running = self.find(spec.name)
        if running:
            raise JobError(
                f"job {spec.name} is already {running['state']} (id {running['jid']})",
                fix="stop it first: ./fraudlake job stop --savepoint",
            )
        rules = ruleset.load(Path(spec.rules_path))
        ruleset.require_approval(rules, spec.rules_path)
        resume = self._explicit(spec.name, savepoint) if savepoint else None
        if not savepoint and not fresh:
            resume = self.resume_point(spec.name)
        if resume and resume.plan_version != PLAN_VERSION:
            raise JobError(
                f"{spec.name} would resume from {resume.describe()}, written by job plan "
                f"{resume.plan_version}; this version runs plan {PLAN_VERSION}, which cannot restore it",
                fix="start without it: `./fraudlake lake load`, then `./fraudlake job start --fresh` "
                "(customer history then comes from Bronze, complete up to the job's offsets)",
            )
        history = None if resume else self.prior_history(spec)
        spec = replace(spec, rules_path=str(self.keep_rules(Path(spec.rules_path), rules.version)))
        self.registry.record_rules(rules)
        self.registry.register_job(spec.name)
        job_id = self._submit(spec, resume.location if resume else None)
        self.registry.record_run(
            JobRun(
                job_id=job_id,
                job_name=spec.name,
                plan_version=PLAN_VERSION,
                rules_version=rules.version,
                rules_sha256=rules_sha256(Path(spec.rules_path)),
                rules_path=spec.rules_path,
                spec=asdict(spec),
                started_from=resume.location if resume else None,
                started_by=started_by or getpass.getuser(),
            )
        )
        self.wait(job_id, {"RUNNING"}, tasks=True)
        return Started(job_id, resume, history)

    def _explicit(self, name: str, location: str) -> ResumePoint:
        """A savepoint named by the operator; its plan as the registry knows it (else this one's)."""
        for known in self.registry.savepoints(name):
            if known.path and same_location(known.path, location):
                return ResumePoint(
                    location,
                    f"{known.kind} savepoint",
                    known.job_id,
                    known.plan_version,
                    known.rules_version,
                    None,
                )
        return ResumePoint(location, "savepoint", "?", PLAN_VERSION, "?", None)

    def keep_rules(self, path: Path, version: str) -> Path:
        """The rules file under its hash in the state folder: what the job (and a rollback) reads."""
        kept = self.ctx.data("jobs") / "rules" / f"{version}-{rules_sha256(path)[:16]}.yaml"
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, kept.with_suffix(".tmp"))
            kept.with_suffix(".tmp").rename(kept)
        return kept

    def _submit(self, spec: JobSpec, resume: str | None) -> str:
        spec_file = self.ctx.data("jobs") / f"{spec.name}.spec.json"
        spec_file.parent.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(spec.to_json())
        self.flink.write_conf()  # a client of a cluster it did not start (a container) has none yet
        command = ["bash", str(self.flink.home / "bin" / "flink"), "run", "-d"]
        if resume:
            command += ["-s", resume]
        shipped = ship.ship(self.ctx.data("jobs") / "pyfs")
        command += ["-pyfs", str(shipped), "-py", str(PROGRAM), "--spec", str(spec_file)]
        env = self.flink.env()
        env |= {
            "PYTHONPATH": ":".join([*map(str, SOURCE_ROOTS), env["PYTHONPATH"]]),
            PASSWORD_ENV: Postgres(self.ctx).password(STREAM_ROLE),
        }
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0 or "JobID" not in done.stdout:
            raise JobError(
                f"submitting {spec.name} failed (exit {done.returncode})",
                details=[
                    line
                    for line in (done.stdout + done.stderr).strip().splitlines()
                    if not line.lstrip().startswith(("at ", "... "))
                ][-25:],
            )
        return done.stdout.split("JobID")[-1].split()[0]

    def prior_history(self, spec: JobSpec) -> prior.PriorHistory:
        offsets = prior.start_offsets(spec.bootstrap, spec.payments_topic, spec.group_id)
        with Postgres(self.ctx).connect(APP_ROLE) as conn:
            return prior.rebuild(conn, spec.name, spec.payments_topic, offsets)

    def wait(self, job_id: str, wanted: set[str], timeout: float = 120, tasks: bool = False) -> str:
        """Until the job is in a `wanted` state (with `tasks`, every task too: state restored)."""
        # a job that restarts will not reach RUNNING cleanly; one being cancelled passes through it
        hopeless = {"FAILED", "CANCELED", "FINISHED"} | ({"RESTARTING"} if "RUNNING" in wanted else set())

        def reached(job: dict[str, Any]) -> bool:
            return job["state"] in wanted and (
                not tasks or all(v["status"] in wanted for v in job["vertices"])
            )

        job = retry.poll(
            lambda: self.flink.rest(f"/jobs/{job_id}"),
            done=lambda job: reached(job) or job["state"] in hopeless - wanted,
            deadline_s=timeout,
        )
        state = job["state"]
        if reached(job):
            return str(state)
        raise JobError(
            f"job {job_id} is {state}, expected {' or '.join(sorted(wanted))}",
            details=self.root_exception(job_id),
        )

    def root_exception(self, job_id: str) -> list[str]:
        root = self.flink.rest(f"/jobs/{job_id}/exceptions").get("root-exception") or ""
        return str(root).splitlines()[:25]

    def run_of(self, job: dict[str, Any]) -> JobRun:
        """The registry's record of an active job (`find`'s answer); a job submitted before the
        registry existed is adopted from the spec and state files that version wrote."""
        run = self.registry.run(job["jid"])
        if run is not None:
            return run
        spec_file = self.ctx.data("jobs") / f"{job['name']}.spec.json"
        if not spec_file.exists():
            raise JobError(
                f"job {job['name']} ({job['jid']}) is not in the registry ops.job_runs and has no spec "
                f"file {spec_file}: it was not started by fraudlake",
                fix="stop it with a savepoint through Flink (web UI or REST), then `fraudlake job start "
                "--from-savepoint <location>`",
            )
        spec = JobSpec.from_json(spec_file.read_text())
        legacy = self.ctx.data("jobs") / f"{job['name']}.json"
        plan = json.loads(legacy.read_text()).get("job_plan", 1) if legacy.exists() else PLAN_VERSION
        rules = Path(spec.rules_path)
        adopted = JobRun(
            job_id=job["jid"],
            job_name=job["name"],
            plan_version=plan,
            rules_version=ruleset.load(rules).version if rules.exists() else "?",
            rules_sha256=rules_sha256(rules) if rules.exists() else "",
            rules_path=str(rules),
            spec=asdict(spec),
            started_from="(adopted: started before the registry)",
            started_by="",
        )
        self.registry.record_run(adopted)
        return adopted

    def stop(self, name: str, savepoint: bool, kind: str = "stop") -> str | None:
        """Stop the named job; with `savepoint`, returns and records the savepoint's location."""
        job = self.find(name)
        if job is None:
            raise JobError(f"no active job named {name}", fix="see `fraudlake job status`")
        job_id = job["jid"]
        if not savepoint:
            self.flink.rest(f"/jobs/{job_id}", method="PATCH")
            self.wait(job_id, {"CANCELED"})
            return None
        _, location = self._savepoint(self.run_of(job), kind, stop=True)
        self.wait(job_id, {"FINISHED"})
        return location

    def savepoint(self, name: str, kind: str = "periodic") -> Savepoint:
        """A savepoint of the running job, which keeps running; recorded, or JobError with Flink's cause."""
        job = self.find(name)
        if job is None or job["state"] != "RUNNING":
            raise JobError(f"no running job named {name}", fix="see `fraudlake job status`")
        record, _ = self._savepoint(self.run_of(job), kind, stop=False)
        return next(s for s in self.registry.savepoints(name) if s.id == record)

    def _savepoint(self, run: JobRun, kind: str, stop: bool) -> tuple[int, str]:
        """Trigger (stop-with-)savepoint, wait for it and record it with its size; failed ones too.
        Its id in the registry and its location. (A savepoint that completes after we gave up is
        still found by the resume rule, which reads storage.)"""
        record = self.registry.savepoint_started(run, kind)
        target = self.flink.savepoint_dir
        try:
            if stop:
                trigger = self.flink.rest(
                    f"/jobs/{run.job_id}/stop", {"drain": False, "targetDirectory": target}
                )
            else:
                trigger = self.flink.rest(
                    f"/jobs/{run.job_id}/savepoints", {"target-directory": target, "cancel-job": False}
                )
            location = self._await_savepoint(run, trigger["request-id"])
        except BaseException as exc:
            self.registry.savepoint_ended(record, None, None, error=_error_text(exc))
            raise
        try:
            size: int | None = self.storage.size(location)
        except Exception:  # the size is information; the savepoint is what counts
            size = None
        self.registry.savepoint_ended(record, location, size)
        return record, location

    def _await_savepoint(self, run: JobRun, request_id: str) -> str:
        status = retry.poll(
            lambda: self.flink.rest(f"/jobs/{run.job_id}/savepoints/{request_id}"),
            done=lambda status: status["status"]["id"] == "COMPLETED",
            deadline_s=SAVEPOINT_TIMEOUT_S,
        )
        if status["status"]["id"] != "COMPLETED":
            raise JobError(f"savepoint of {run.job_name} did not complete within {SAVEPOINT_TIMEOUT_S} s")
        operation = status.get("operation", {})
        location = operation.get("location")
        if not location:
            cause = operation.get("failure-cause", {}).get("stack-trace", "")
            raise JobError(
                f"savepoint of {run.job_name} ({run.job_id}) failed",
                details=[line for line in cause.splitlines() if not line.lstrip().startswith("at ")][:25],
            )
        return str(location)

    def status(self, name: str, resume: bool = True) -> dict[str, Any]:
        """The job's state and progress; `resume`: also where a restart would resume from (which
        reads the state storage, MinIO: `fraudlake status` leaves it out so as not to hang on it)."""
        job = self.find(name)
        report: dict[str, Any] = {"name": name}
        if resume:
            point = self.resume_point(name)
            report["resumes_from"] = point.describe() if point else "fresh start"
        if job is None:
            return report | {"state": "NOT RUNNING"}
        job_id = job["jid"]
        checkpoints = self.flink.rest(f"/jobs/{job_id}/checkpoints")
        latest = (checkpoints.get("latest") or {}).get("completed") or {}
        vertices = self.flink.rest(f"/jobs/{job_id}")["vertices"]
        source = vertices[0]["metrics"] if vertices else {}
        run = self.registry.run(job_id)
        return report | {
            "state": job["state"],
            "job_id": job_id,
            "rules_version": run.rules_version if run else "?",
            "web_ui": f"{self.flink.rest_url}/#/job/running/{job_id}/overview",
            "uptime_s": round(job["duration"] / 1000),
            "records_read": source.get("write-records", 0),
            "checkpoints_completed": checkpoints.get("counts", {}).get("completed", 0),
            "last_checkpoint": latest.get("external_path"),
        }


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, JobError):
        return "\n".join([exc.cause, *exc.details])
    return f"{type(exc).__name__}: {exc}"
