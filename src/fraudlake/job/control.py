"""`fraudlake job start | stop | status | sql`: the scoring job on the platform's Flink cluster.

A job is known by its name (pipeline.name). `stop --savepoint` records where the savepoint went
in the checkout's state folder, and `start` resumes from the last recorded one unless told
otherwise: the customers' history (velocity, averages, devices) survives restarts and rule changes.

A savepoint only restores into the plan version (job/sql.py PLAN_VERSION) that wrote it, so the
state file records the plan of the submitted job and of its last savepoint. After an upgrade that
changes the plan, `start` refuses the old savepoint with the way out (`--fresh`) rather than letting
the job restart forever on state it cannot read.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fraudlake.config import PROJECT_ROOT
from fraudlake.job import prior
from fraudlake.job.spec import PASSWORD_ENV, JobSpec
from fraudlake.job.sql import PLAN_VERSION
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.flink import Flink
from fraudlake.platform.postgres import APP_ROLE, STREAM_ROLE, Postgres

PROGRAM = Path(__file__).with_name("main.py")
SOURCES = PROJECT_ROOT / "src"
ACTIVE_STATES = {"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "FAILING", "RECONCILING"}


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
class JobState:
    """What the checkout remembers about a job between runs."""

    last_savepoint: str | None
    savepoint_plan: int = 1
    """The plan version that wrote last_savepoint (1: recorded before plans were versioned)."""
    job_plan: int = 1
    """The plan version of the job last submitted."""


@dataclass(frozen=True)
class Started:
    job_id: str
    resumed_from: str | None
    history: prior.PriorHistory | None
    """What Bronze gave a job that started without state (None when it resumed its own)."""


class Jobs:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.flink = Flink(ctx)

    def _state_file(self, name: str) -> Path:
        return self.ctx.data("jobs") / f"{name}.json"

    def state(self, name: str) -> JobState:
        path = self._state_file(name)
        if not path.exists():
            return JobState(last_savepoint=None)
        return JobState(**json.loads(path.read_text()))

    def remember(self, name: str, state: JobState) -> None:
        path = self._state_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state.__dict__, indent=2) + "\n")

    def find(self, name: str) -> dict[str, Any] | None:
        """The active job of that name, as /jobs/overview lists it."""
        for job in self.flink.rest("/jobs/overview")["jobs"]:
            if job["name"] == name and job["state"] in ACTIVE_STATES:
                return dict(job)
        return None

    def start(self, spec: JobSpec, savepoint: str | None = None, fresh: bool = False) -> Started:
        """Submit the job; resumes from `savepoint`, else the last recorded one unless `fresh`.
        Without one, the customers' earlier history is first taken from Bronze (job/prior.py)."""
        running = self.find(spec.name)
        if running:
            raise JobError(
                f"job {spec.name} is already {running['state']} (id {running['jid']})",
                fix=f"stop it first: fraudlake job stop --savepoint (or --name {spec.name})",
            )
        known = self.state(spec.name)
        resume = savepoint or (None if fresh else known.last_savepoint)
        if resume and not savepoint and known.savepoint_plan != PLAN_VERSION:
            raise JobError(
                f"the last savepoint of {spec.name} ({resume}) was written by job plan "
                f"{known.savepoint_plan}; this version runs plan {PLAN_VERSION}, which cannot restore it",
                fix="start without it: `./fraudlake lake load`, then `./fraudlake job start --fresh` "
                "(customer history then comes from Bronze, complete up to the job's offsets)",
            )
        history = None if resume else self.prior_history(spec)
        spec_file = self.ctx.data("jobs") / f"{spec.name}.spec.json"
        spec_file.parent.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(spec.to_json())
        command = ["bash", str(self.flink.home / "bin" / "flink"), "run", "-d"]
        if resume:
            command += ["-s", resume]
        command += ["-pyfs", str(SOURCES), "-py", str(PROGRAM), "--spec", str(spec_file)]
        env = self.flink.env()
        env |= {
            "PYTHONPATH": f"{SOURCES}:{env['PYTHONPATH']}",
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
        job_id = done.stdout.split("JobID")[-1].split()[0]
        # a fresh start makes the last savepoint history: `up` must not roll the job back to it
        kept = known.last_savepoint if resume else None
        self.remember(spec.name, replace(known, job_plan=PLAN_VERSION, last_savepoint=kept))
        self.wait(job_id, {"RUNNING"}, tasks=True)
        return Started(job_id, resume, history)

    def prior_history(self, spec: JobSpec) -> prior.PriorHistory:
        offsets = prior.start_offsets(spec.bootstrap, spec.payments_topic, spec.group_id)
        with Postgres(self.ctx).connect(APP_ROLE) as conn:
            return prior.rebuild(conn, spec.name, spec.payments_topic, offsets)

    def wait(self, job_id: str, wanted: set[str], timeout: float = 120, tasks: bool = False) -> str:
        """Until the job is in a `wanted` state (with `tasks`, every task too: state restored)."""
        deadline = time.monotonic() + timeout
        state = "UNKNOWN"
        while time.monotonic() < deadline:
            job = self.flink.rest(f"/jobs/{job_id}")
            state = job["state"]
            if state in wanted and (not tasks or all(v["status"] in wanted for v in job["vertices"])):
                return str(state)
            if state in {"FAILED", "CANCELED", "FINISHED", "RESTARTING"}:
                break
            time.sleep(0.5)
        root = self.flink.rest(f"/jobs/{job_id}/exceptions").get("root-exception") or ""
        raise JobError(
            f"job {job_id} is {state}, expected {' or '.join(sorted(wanted))}",
            details=root.splitlines()[:25],
        )

    def stop(self, name: str, savepoint: bool) -> str | None:
        """Stop the named job; with `savepoint`, returns and records the savepoint's location."""
        job = self.find(name)
        if job is None:
            raise JobError(f"no active job named {name}", fix="see `fraudlake job status`")
        job_id = job["jid"]
        if not savepoint:
            self.flink.rest(f"/jobs/{job_id}", method="PATCH")
            self.wait(job_id, {"CANCELED"})
            return None
        trigger = self.flink.rest(f"/jobs/{job_id}/stop", {"drain": False})
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = self.flink.rest(f"/jobs/{job_id}/savepoints/{trigger['request-id']}")
            if status["status"]["id"] == "COMPLETED":
                operation = status.get("operation", {})
                location = operation.get("location")
                if not location:
                    cause = operation.get("failure-cause", {}).get("stack-trace", "")
                    raise JobError(f"stop-with-savepoint of {name} failed", details=cause.splitlines()[:25])
                self.wait(job_id, {"FINISHED"})
                plan = self.state(name).job_plan
                self.remember(name, JobState(last_savepoint=location, savepoint_plan=plan, job_plan=plan))
                return str(location)
            time.sleep(0.5)
        raise JobError(f"stop-with-savepoint of {name} did not complete within 300 s")

    def status(self, name: str) -> dict[str, Any]:
        job = self.find(name)
        report: dict[str, Any] = {"name": name, "last_savepoint": self.state(name).last_savepoint}
        if job is None:
            return report | {"state": "NOT RUNNING"}
        job_id = job["jid"]
        checkpoints = self.flink.rest(f"/jobs/{job_id}/checkpoints")
        latest = (checkpoints.get("latest") or {}).get("completed") or {}
        vertices = self.flink.rest(f"/jobs/{job_id}")["vertices"]
        source = vertices[0]["metrics"] if vertices else {}
        return report | {
            "state": job["state"],
            "job_id": job_id,
            "web_ui": f"{self.flink.rest_url}/#/job/running/{job_id}/overview",
            "uptime_s": round(job["duration"] / 1000),
            "records_read": source.get("write-records", 0),
            "checkpoints_completed": checkpoints.get("counts", {}).get("completed", 0),
            "last_checkpoint": latest.get("external_path"),
        }
