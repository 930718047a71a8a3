"""`fraudlake job ...`, and the job's part in `fraudlake up` / `down`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

from fraudlake.platform import process
from fraudlake.platform.context import Context
from fraudlake.platform.flink import Flink
from fraudlake.platform.runner import Progress
from fraudlake.platform.supervision import Store
from fraudlake.rules import ruleset
from fraudlake.simulator import demo
from fraudlake.topics import FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS_DLQ
from fraudlake_flink.control import JobError, Jobs, Started
from fraudlake_flink.spec import JOB_NAME, JobSpec
from fraudlake_flink.sql import job_sql


def job(ctx: Context, args: argparse.Namespace) -> int:
    jobs = Jobs(ctx)
    if args.action in ("start", "sql"):
        try:
            spec = JobSpec.from_settings(ctx.settings, rules_path=args.rules)
            rules = ruleset.load(Path(spec.rules_path))
            if args.action == "start":
                ruleset.require_approval(rules, spec.rules_path)
        except ruleset.RulesError as exc:
            print(f"error: rules: {exc}", file=sys.stderr)
            return 2
        if args.action == "sql":
            print(job_sql(spec, rules).script(), end="")
            return 0
        running = jobs.find(spec.name) if args.unless_running else None
        if running:
            print(f"  {spec.name} already {running['state']}, job id {running['jid']}")
            return 0
        started = jobs.start(spec, savepoint=args.from_savepoint, fresh=args.fresh)
        if spec.name == JOB_NAME:
            Store.of(ctx).want("job")  # the supervisor keeps it running from now on
        print(f"  {spec.name} running (rules {rules.version}), job id {started.job_id}")
        print(f"  {_origin(started)}")
        print(f"  web UI: {Flink(ctx).rest_url}/#/job/running/{started.job_id}/overview")
        return 0
    if args.action == "savepoint":
        taken = jobs.savepoint(JOB_NAME)
        print(f"  savepoint {taken.path}: {taken.size_bytes or 0:,} bytes in {taken.duration_ms} ms")
        return 0
    if args.action == "history":
        return _history(jobs, args.name, args.json)
    if args.action == "stop":
        store = Store.of(ctx)
        with store.lifecycle():  # stopped by a person: not to be restarted, not even by one under way
            store.unwant("job")
        location = jobs.stop(JOB_NAME, savepoint=args.savepoint)
        print(
            f"  {JOB_NAME} stopped" + (f"; savepoint {location} (next start resumes it)" if location else "")
        )
        return 0
    report = jobs.status(JOB_NAME)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"  {key:22} {value}")
    return 0 if report["state"] == "RUNNING" else 3


def _origin(started: Started) -> str:
    if started.resumed_from is not None:
        return f"resumed from {started.resumed_from.describe()}"
    assert started.history is not None
    return started.history.summary()


def _history(jobs: Jobs, name: str, as_json: bool) -> int:
    """The registry's runs, savepoints and deployments of a job, newest first."""
    report = {
        "runs": [asdict(r) | {"spec": None} for r in jobs.registry.runs(name)],
        "savepoints": [asdict(s) for s in jobs.registry.savepoints(name)],
        "deployments": [asdict(d) for d in jobs.registry.deployments(name)],
    }
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print("runs (newest first):")
    for run in report["runs"]:
        origin = run["started_from"] or "fresh (history from Bronze)"
        print(f"  {run['started_at']:%Y-%m-%d %H:%M:%S}  {run['job_id']}  rules {run['rules_version']:<12}")
        print(f"      from {origin}")
    print("savepoints:")
    for sp in report["savepoints"]:
        size = f"{sp['size_bytes']:,} B" if sp["size_bytes"] is not None else "-"
        where = sp["path"] or (sp["error"].splitlines() or ["-"])[0]
        print(
            f"  {sp['triggered_at']:%Y-%m-%d %H:%M:%S}  {sp['kind']:<10} {sp['state']:<11} {size:>12}  "
            f"rules {sp['rules_version']:<12} {where}"
        )
    print("deployments:")
    for d in report["deployments"]:
        print(
            f"  {d['started_at']:%Y-%m-%d %H:%M:%S}  {d['result']:<11} {d['rules_before'] or '-'} -> "
            f"{d['rules_after'] or d['rules_file']}  by {d['requested_by'] or '?'}"
        )
        if d["detail"]:
            print(f"      {d['detail'].splitlines()[0]}")
    return 0


def last_deployment(ctx: Context, run_id: str) -> str:
    """The deployment of that rules_deploy run, as `rules deploy --wait` reports it."""
    latest = next((d for d in Jobs(ctx).registry.deployments(JOB_NAME) if d.run_id == run_id), None)
    if latest is None:
        return f"  no deployment recorded for run {run_id}"
    after = latest.rules_after or latest.rules_file
    return (
        f"  {latest.result}: rules {latest.rules_before or '-'} -> {after}\n    "
        + "\n    ".join(latest.detail.splitlines())
        + "\n  (fraudlake job history)"
    )


def deploy_conf(ctx: Context, rules_file: Path, gate_timeout: int | None) -> dict[str, Any]:
    """The rules_deploy run's parameters; the file is checked here first, so a typo fails at once."""
    if not rules_file.is_file():
        raise JobError(f"rules file {rules_file} does not exist", fix="give the path of a rules YAML")
    return {
        "rules_file": str(rules_file.resolve()),
        "job_name": JOB_NAME,
        "gate_timeout_s": gate_timeout or ctx.settings.deploy_gate_timeout_s,
        "requested_by": getpass.getuser(),
    }


def live_spec(jobs: Jobs, ctx: Context) -> JobSpec:
    """The platform job's spec from the settings, with the rules it last ran (a deploy's, if one
    switched it): rules change through `rules deploy` and its checks, not by a restart."""
    spec = JobSpec.from_settings(ctx.settings)
    runs = jobs.registry.runs(JOB_NAME)
    return replace(spec, rules_path=runs[0].rules_path) if runs else spec


DEPLOY_MAX_S = 3600
"""A deploy that began longer ago than this and never ended is over (its Airflow worker died)."""


class SupervisedJob:
    """The platform's scoring job as the supervisor keeps it: when the cluster answers but runs no
    such job (a JobManager restart loses its jobs; a job whose restarts ran out has FAILED), it is
    submitted again with the rules it last ran, from where the resume rule says. While a
    rules deploy switches jobs, it is left to the deploy."""

    name = "job"

    def __init__(self, ctx: Context) -> None:
        self.jobs = Jobs(ctx)
        self.ctx = ctx

    def down(self) -> str | None:
        if self.jobs.flink.probe() is not None or self.jobs.find(JOB_NAME):
            return None  # a cluster that does not answer is the flink unit's to restart
        latest = self.jobs.registry.deployments(JOB_NAME)[:1]
        if (
            latest
            and latest[0].result == "running"
            and time.time() - latest[0].started_at.timestamp() < DEPLOY_MAX_S
        ):
            return None
        return f"{JOB_NAME} is not running on the cluster"

    def restart(self) -> str:
        return _origin(self.jobs.start(live_spec(self.jobs, self.ctx), started_by="supervisor"))

    def logs(self) -> list[str]:
        return process.tail(self.ctx.log_file("flink-jobmanager"), 8)


def job_line(ctx: Context) -> str:
    """One line on the scoring job for `fraudlake status`."""
    report = Jobs(ctx).status(JOB_NAME, resume=False)
    if report["state"] == "NOT RUNNING":
        return f"scoring job {JOB_NAME}: not running (start it: ./fraudlake job start)"
    return (
        f"scoring job {JOB_NAME}: {report['state']} for {report['uptime_s']}s, "
        f"{report['checkpoints_completed']} checkpoints (./fraudlake job status; web UI {report['web_ui']})"
    )


def start_with_platform(ctx: Context, out: TextIO, demo_traffic: bool) -> list[str]:
    """Start the scoring job (resuming its last savepoint) and the demo traffic; lines to show."""
    progress = Progress(out)
    jobs = Jobs(ctx)
    rate = ctx.settings.demo_rate if demo_traffic else 0
    if rate and demo.needs_history(ctx):
        # before the job, so that it reads the week from the start of every partition (none of it
        # comes late: benchmarks/backlog_catchup.py)
        with progress.step("replay a week of demo history") as notes:
            notes.append(demo.replay_history(ctx))
    with progress.step("start scoring job") as notes:
        running = jobs.find(JOB_NAME)
        if running:
            jobs.run_of(running)  # a job started before the registry is adopted: its crash then resumes
            notes.append(f"already {running['state']}")
        else:
            notes.append(_origin(jobs.start(live_spec(jobs, ctx))))
    if rate:
        with progress.step("start demo traffic") as notes:
            notes.append(f"{rate} payments/s, pid {demo.start(ctx, rate)}")
    bootstrap = ctx.settings.kafka_bootstrap
    return [
        "",
        f"scoring job {JOB_NAME}: {Flink(ctx).rest_url}  (fraudlake job status)",
        f"decisions: topic {PAYMENT_SCORES.name}, alerts: topic {FRAUD_ALERTS.name}, "
        f"rejected input: topic {PAYMENTS_DLQ.name} on {bootstrap}",
        "watch them: ./fraudlake watch alerts --follow   (or: scores, dlq)"
        + (f"; demo traffic log: {demo.daemon(ctx).log_file}" if rate else ""),
    ]


def stop_with_platform(ctx: Context, out: TextIO) -> None:
    """Before the platform stops: demo traffic off, job stopped with a savepoint `up` resumes."""
    progress = Progress(out)
    with progress.step("stop demo traffic") as notes:
        notes.append("stopped" if demo.stop(ctx) else "was not running")
    with progress.step("stop scoring job") as notes:
        jobs = Jobs(ctx)
        if jobs.flink.probe() is not None or jobs.find(JOB_NAME) is None:
            notes.append("was not running")
        else:
            notes.append(f"savepoint {jobs.stop(JOB_NAME, savepoint=True)}")
