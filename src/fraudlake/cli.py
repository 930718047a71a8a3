"""The `fraudlake` command line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fraudlake.config import ConfigError, Settings
from fraudlake.job.spec import JOB_NAME
from fraudlake.platform import runner
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.process import tail


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fraudlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the platform, the scoring job and demo traffic")
    up.add_argument("--no-job", action="store_true", help="start the platform only")
    up.add_argument("--no-demo", action="store_true", help="no demo traffic (FRAUDLAKE_DEMO_RATE=0 too)")
    up.add_argument("--no-sink", action="store_true", help="do not start the Bronze sink")
    up.add_argument("--no-superset", action="store_true", help="do not start Superset (the dashboards)")
    sub.add_parser("down", help="stop demo, job (with a savepoint), sink and platform; data is kept")
    status = sub.add_parser("status", help="up/down per service, and why when down")
    status.add_argument("--json", action="store_true", help="machine-readable, with connections")
    status.add_argument("--show-secrets", action="store_true", help="include passwords")
    logs = sub.add_parser("logs", help="print a service's log")
    logs.add_argument(
        "service", choices=["postgres", "kafka", "minio", "flink", "airflow", "superset", "sink", "demo"]
    )
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("-f", "--follow", action="store_true")
    sim = sub.add_parser("simulate", help="produce labelled payments, chargebacks and customers")
    sim.add_argument("--seed", type=int, default=42, help="same seed (and --start) → same events")
    sim.add_argument("--events", type=int, help="payments to produce (replay default 10000)")
    sim.add_argument("--duration", help="event-time window (replay, default 28d) or run time (real time)")
    sim.add_argument("--realtime", action="store_true", help="emit at --rate events/s on the wall clock")
    sim.add_argument("--rate", type=float, help="real-time payments per second (default 100)")
    sim.add_argument("--start", help="ISO date-time of the first event (UTC)")
    sim.add_argument("--customers", type=int, help="customer base size (default events/25, min 200)")
    sim.add_argument(
        "--population-seed",
        type=int,
        help="seed of the customer base (default --seed): keep it to keep the customers",
    )
    sim.add_argument("--fraud-rate", type=float, default=0.02, help="share of payments that are fraud")
    sim.add_argument("--malformed-rate", type=float, default=0.0, help="share of extra malformed events")
    sim.add_argument("--out", type=Path, help="also write payments to this Parquet file")
    sim.add_argument("--chargebacks-out", type=Path, help="also write chargebacks to this Parquet file")
    sim.add_argument("--customers-out", type=Path, help="also write customer profiles to this Parquet file")
    sim.add_argument("--truth-out", type=Path, help="write ground truth (is_fraud, scenario) here")
    sim.add_argument("--workers", type=int, default=1, help="replay from N processes (sharded customers)")
    sim.add_argument("--no-kafka", action="store_true", help="do not produce to Kafka")
    sim.add_argument(
        "--no-truth-topic", action="store_true", help="do not produce the ground truth to topic ground-truth"
    )
    sim.add_argument("--no-postgres", action="store_true", help="do not write customer profiles")
    score = sub.add_parser("score", help="re-score payments from Parquet with a rules file")
    score.add_argument("--input", type=Path, required=True, help="payments Parquet (the contract's format)")
    score.add_argument("--output", type=Path, required=True, help="decisions Parquet to write")
    score.add_argument("--rules", type=Path, help="rules YAML (default: the packaged v1 rules)")
    score.add_argument("--profiles", type=Path, help="customer profiles Parquet (default: PostgreSQL)")
    score.add_argument(
        "--history-of",
        metavar="JOB",
        help="start from the customers' earlier history that job started from (ops.customer_history)",
    )
    job = sub.add_parser("job", help="the streaming scoring job on the Flink cluster")
    job_sub = job.add_subparsers(dest="action", required=True)
    start = job_sub.add_parser(
        "start", help="submit; resumes from the newest checkpoint or savepoint of the job (job history)"
    )
    start.add_argument("--rules", type=Path, help="rules YAML (default: FRAUDLAKE_JOB_RULES or v1)")
    start.add_argument("--from-savepoint", help="resume from this savepoint instead of the newest point")
    start.add_argument(
        "--fresh", action="store_true", help="start without state (offsets: the group's; history: Bronze)"
    )
    stop = job_sub.add_parser("stop", help="stop the job")
    stop.add_argument("--savepoint", action="store_true", help="take a savepoint the next start resumes")
    job_status = job_sub.add_parser("status", help="state, checkpoints, where a restart resumes from")
    job_status.add_argument("--json", action="store_true")
    job_history = job_sub.add_parser("history", help="the job's runs, savepoints and rules deployments")
    job_history.add_argument("--json", action="store_true")
    job_history.add_argument("--name", default=JOB_NAME, help="the job (pipeline.name)")
    job_sub.add_parser("savepoint", help="take a savepoint now (kind periodic); the job keeps running")
    job_sql = job_sub.add_parser("sql", help="print the Flink SQL generated from the rules file")
    job_sql.add_argument("--rules", type=Path, help="rules YAML (default: FRAUDLAKE_JOB_RULES or v1)")
    rules = sub.add_parser("rules", help="the scoring rules of the running job")
    rules_sub = rules.add_subparsers(dest="action", required=True)
    deploy = rules_sub.add_parser("deploy", help="put a rules file live through Airflow's rules_deploy DAG")
    deploy.add_argument("file", type=Path, help="rules YAML")
    deploy.add_argument(
        "--wait", action="store_true", help="wait for its end; exit 1 unless the new rules are live"
    )
    deploy.add_argument("--gate-timeout", type=int, help="seconds the new rules have to prove healthy")
    watch = sub.add_parser("watch", help="print the latest alerts, decisions or rejected input")
    watch.add_argument("stream", choices=["alerts", "scores", "dlq"])
    watch.add_argument("-n", "--last", type=int, default=20, help="records per partition to show first")
    watch.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    sub.add_parser("sink", help="land every topic in MinIO Bronze as Parquet (foreground; `up` runs it)")
    lake = sub.add_parser("lake", help="the lakehouse in MinIO")
    lake_sub = lake.add_subparsers(dest="action", required=True)
    lake_stats = lake_sub.add_parser("stats", help="per topic: rows and offsets in Bronze beside Kafka")
    lake_stats.add_argument("--json", action="store_true")
    lake_sub.add_parser("load", help="load new Bronze objects into PostgreSQL schema bronze (idempotent)")
    lakehouse = sub.add_parser("lakehouse", help="Bronze -> Silver/Gold in PostgreSQL")
    lakehouse_sub = lakehouse.add_subparsers(dest="action", required=True)
    lakehouse_sub.add_parser("build", help="load new Bronze objects, then `dbt build` (models and tests)")
    lakehouse_sub.add_parser("docs", help="generate the dbt docs as one HTML page and print its path")
    refresh = lakehouse_sub.add_parser("refresh", help="trigger Airflow's lakehouse_refresh DAG")
    refresh.add_argument("--wait", action="store_true", help="wait for its end; exit 1 unless it succeeded")
    dashboards = sub.add_parser("superset", help="the Superset dashboards kept as code in superset/")
    dashboards_sub = dashboards.add_subparsers(dest="action", required=True)
    dashboards_sub.add_parser(
        "import", help="import superset/ (up does it); deletes what earlier imports brought and the YAML lost"
    )
    dashboards_sub.add_parser("export", help="write the dashboards as Superset has them back to superset/")
    reset = sub.add_parser("reset", help="stop everything and wipe local data, logs and secrets")
    reset.add_argument("--yes", action="store_true", help="do not ask")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        ctx = Context(Settings.from_env())
        return _run(ctx, args)
    except ConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    except PlatformError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(ctx: Context, args: argparse.Namespace) -> int:
    if args.command == "up":
        return _up(ctx, args)
    if args.command == "down":
        from fraudlake.job import command as job_command

        job_command.stop_with_platform(ctx, sys.stdout)
        _stop_sink(ctx)
        runner.down(ctx, sys.stdout)
        return 0
    if args.command == "sink":
        from fraudlake.lake.sink import run_forever

        return run_forever(ctx)
    if args.command == "lakehouse" and args.action == "refresh":
        return _trigger(ctx, "lakehouse_refresh", args.wait)[0]
    if args.command == "rules":
        from fraudlake.job.command import deploy_conf, last_deployment

        code, run_id = _trigger(
            ctx, "rules_deploy", args.wait, deploy_conf(ctx, args.file, args.gate_timeout)
        )
        if args.wait:
            print(last_deployment(ctx, run_id))
        return code
    if args.command == "lakehouse":
        return _lakehouse_step(ctx, args.action)
    if args.command == "lake" and args.action == "load":
        return _lake_load(ctx)
    if args.command == "lake":
        from fraudlake.lake.stats import lake_stats, render

        report = lake_stats(ctx)
        print(json.dumps(report, indent=2) if args.json else render(report))
        return 0
    if args.command == "job":
        from fraudlake.job.command import job

        return job(ctx, args)
    if args.command == "status":
        report = runner.status(ctx, show_secrets=args.show_secrets)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            _print_status(report)
            if report["flink"]["status"] == "up":
                from fraudlake.job.command import job_line

                print(f"\n{job_line(ctx)}")
            from fraudlake.lake import service

            pid = service.daemon(ctx).running()
            state = f"running, pid {pid}" if pid else "not running (./fraudlake up starts it)"
            print(f"bronze sink: {state}")
        return 0 if all(entry["status"] == "up" for entry in report.values()) else 3
    if args.command == "logs":
        return _logs(ctx, args.service, args.lines, args.follow)
    if args.command == "simulate":
        from fraudlake.simulator.command import simulate

        return simulate(ctx, args)
    if args.command == "watch":
        from fraudlake.job.watch import watch

        return watch(ctx, args.stream, args.last, args.follow)
    if args.command == "score":
        return _score(ctx, args)
    if args.command == "superset":
        return _superset(ctx, args.action)
    if args.command == "reset":
        ask = (lambda _q: True) if args.yes else _ask

        def confirm(question: str) -> bool:
            if not ask(question):
                return False
            from fraudlake.job import demo

            demo.stop(ctx)  # the daemons write into what is about to be wiped
            _stop_sink(ctx)
            return True

        return 0 if runner.reset(ctx, sys.stdout, confirm) else 1
    raise AssertionError(args.command)


def _up(ctx: Context, args: argparse.Namespace) -> int:
    started = time.monotonic()
    print(f"fraudlake up (state in {ctx.settings.home})")
    skip = frozenset({"superset"} if args.no_superset else ())
    runner.up(ctx, sys.stdout, skip)
    report = runner.status(ctx, show_secrets=True)
    down = [name for name, entry in report.items() if entry["status"] != "up" and name not in skip]
    if down:
        print(_table(report))
        print(f"\nerror: not healthy after start: {', '.join(down)}", file=sys.stderr)
        return 1
    notes: list[str] = []
    if not args.no_job:
        from fraudlake.job import command as job_command

        notes = job_command.start_with_platform(ctx, sys.stdout, demo_traffic=not args.no_demo)
    if not args.no_sink:
        notes += _start_sink(ctx)
    if not args.no_superset:
        from fraudlake.platform.superset import DASHBOARDS, Superset

        url = Superset(ctx).url
        notes.append("dashboards: " + "  ".join(f"{url}/superset/dashboard/{slug}/" for slug in DASHBOARDS))
    print(f"\nplatform up in {time.monotonic() - started:.1f}s\n")
    print(_table(report))
    for note in notes:
        print(note)
    return 0


def _lake_load(ctx: Context) -> int:
    from fraudlake.lake import refresh
    from fraudlake.platform.minio import Minio
    from fraudlake.platform.postgres import APP_ROLE, Postgres

    loaded = refresh.load(Postgres(ctx).endpoint(APP_ROLE), Minio(ctx).client(), refresh.Scope())
    print(f"  loaded {loaded.objects:,} objects ({loaded.rows:,} rows); {loaded.skipped:,} already loaded")
    return 0


def _lakehouse_step(ctx: Context, step: str) -> int:
    """`lakehouse build` (load, then dbt build) or `lakehouse docs`, in the foreground on the
    platform's own Bronze and schemas."""
    from fraudlake.lake import refresh
    from fraudlake.platform.postgres import APP_ROLE, Postgres

    if step == "build":
        _lake_load(ctx)
    db, scope, state = Postgres(ctx).endpoint(APP_ROLE), refresh.Scope(), ctx.settings.home / "dbt"
    try:
        if step == "build":
            print(refresh.build(ctx, db, scope, state))
        else:
            print(f"  dbt docs: file://{refresh.docs(ctx, db, scope, state)}")
    except refresh.RefreshError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _trigger(ctx: Context, dag_id: str, wait: bool, conf: dict[str, Any] | None = None) -> tuple[int, str]:
    """A run of an Airflow DAG through its REST API; with `wait`, its outcome and failed tasks.
    The exit code and the run's id."""
    from fraudlake.platform.airflow import Airflow

    airflow = Airflow(ctx)
    run_id = airflow.trigger(dag_id, conf)
    print(f"  triggered {dag_id} run {run_id}: {airflow.url}/dags/{dag_id}")
    if not wait:
        return 0, run_id
    run = airflow.wait_for_run(dag_id, run_id)
    print(f"  {run.state} in {run.seconds:.0f}s")
    for task, excerpt in run.failures.items():
        print(f"  task {task} failed:\n    " + "\n    ".join(excerpt), file=sys.stderr)
    return (0 if run.state == "success" else 1), run_id


def _start_sink(ctx: Context) -> list[str]:
    from fraudlake.lake import service
    from fraudlake.platform.runner import Progress

    with Progress(sys.stdout).step("start bronze sink") as notes:
        notes.append(f"pid {service.start(ctx)}")
    log = service.daemon(ctx).log_file
    return [f"bronze sink: every topic into s3://bronze as Parquet (./fraudlake lake stats; log {log})"]


def _stop_sink(ctx: Context) -> None:
    from fraudlake.lake import service
    from fraudlake.platform.runner import Progress

    with Progress(sys.stdout).step("stop bronze sink") as notes:
        notes.append("flushed and stopped" if service.stop(ctx) else "was not running")


def _score(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.platform.postgres import STREAM_ROLE, Postgres
    from fraudlake.rules import batch, ruleset
    from fraudlake.rules.history import PriorActivity

    try:
        rules = ruleset.load(args.rules) if args.rules else ruleset.load()
    except ruleset.RulesError as exc:
        print(f"error: rules: {exc}", file=sys.stderr)
        return 2
    prior: list[PriorActivity] = []
    if args.profiles:
        profiles = batch.read_profiles(args.profiles)
    if not args.profiles or args.history_of:
        with Postgres(ctx).connect(STREAM_ROLE) as conn:
            profiles = profiles if args.profiles else batch.profiles_from_postgres(conn)
            prior = batch.prior_from_postgres(conn, args.history_of) if args.history_of else []
    count = batch.score_file(args.input, args.output, rules, profiles, prior)
    print(f"  {count:,} decisions (rules {rules.version}) written to {args.output}")
    return 0


def _superset(ctx: Context, action: str) -> int:
    from fraudlake.dashboards import bundle, importer
    from fraudlake.platform.superset import Superset

    superset = Superset(ctx)
    if action == "import":
        done = superset.import_dashboards()
        objects = ", ".join(f"{count} {kind}s" for kind, count in done.objects.items())
        deleted = ", ".join(f"{count} {kind}s" for kind, count in done.deleted.items() if count) or "nothing"
        print(f"  imported {objects} from {bundle.ASSETS}; deleted {deleted}")
        for refused in done.kept:
            print(f"  not deleted (kept for the next import): {refused}", file=sys.stderr)
        return 0
    changed = importer.export_tree(superset.client())
    print(
        f"  {len(changed)} files changed under {bundle.ASSETS}" + "".join(f"\n    {path}" for path in changed)
    )
    if changed:
        print("  review them (git diff superset/) and commit")
    return 0


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        print(f"{question} Refusing without a terminal: pass --yes.", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _endpoint(name: str, connection: dict[str, Any]) -> tuple[str, str]:
    """(where, credentials) for the summary table."""
    if name == "postgres":
        roles = connection["roles"]
        where = f"{connection['host']}:{connection['port']}/{connection['database']}"
        creds = ", ".join(f"{r['user']}/{r.get('password', '***')}" for r in roles.values())
        return where, creds
    if name == "kafka":
        return connection["bootstrap_servers"], "none (PLAINTEXT on localhost)"
    if name == "minio":
        secret = connection.get("secret_key", "***")
        return f"{connection['endpoint']}  console {connection['console']}", (
            f"{connection['access_key']}/{secret}"
        )
    if name in ("airflow", "superset"):
        return connection["url"], f"{connection['user']}/{connection.get('password', '***')}"
    return f"{connection['web_ui']}  ({connection['task_slots']} slots)", "none"


def _table(report: dict[str, dict[str, Any]]) -> str:
    rows = [("SERVICE", "STATUS", "ADDRESS", "CREDENTIALS")]
    for name, entry in report.items():
        where, creds = _endpoint(name, entry["connection"])
        rows.append((name, entry["status"], where, creds))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3] for row in rows
    )


def _print_status(report: dict[str, dict[str, Any]]) -> None:
    print(_table(report))
    for name, entry in report.items():
        if entry["status"] != "up":
            print(f"\n{name} is down: {entry['reason']}")
            for line in entry["last_log_lines"]:
                print(f"    {line}")


def _logs(ctx: Context, name: str, lines: int, follow: bool) -> int:
    from fraudlake.job import demo
    from fraudlake.lake import service as sink

    daemons = {"sink": sink.daemon, "demo": demo.daemon}
    if name in daemons:
        files = [daemons[name](ctx).log_file]
    else:
        service = runner.service_by_name(ctx, name)
        files = [service.log_file(proc) for proc in service.processes]
    for path in files:
        if len(files) > 1:
            print(f"==> {path} <==")
        for line in tail(path, lines):
            print(line)
    if follow:
        return subprocess.call(["tail", "-n0", "-F", *map(str, files)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
