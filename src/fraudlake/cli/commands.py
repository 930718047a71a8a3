"""One handler per `fraudlake` command: `(context, parsed arguments) -> exit code`.

Engine code is imported inside the handlers, so `fraudlake status` does not pay for PyArrow or the
job's SQL generation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraudlake.platform import runner
from fraudlake.platform.context import Context
from fraudlake.platform.process import tail
from fraudlake.platform.secrets import secrets_file
from fraudlake.platform.supervision import Store

Handler = Callable[[Context, argparse.Namespace], int]


def up(ctx: Context, args: argparse.Namespace) -> int:
    started = time.monotonic()
    print(f"fraudlake up (state in {ctx.settings.home})")
    skip = frozenset({"superset"} if args.no_superset else ())
    store = Store.of(ctx)
    with store.lifecycle():  # the supervisor restarts nothing meanwhile
        runner.up(ctx, sys.stdout, skip)
        report = runner.status(ctx)
        down = [name for name, entry in report.items() if entry["status"] != "up" and name not in skip]
        if down:
            print(_table(report))
            print(f"\nerror: not healthy after start: {', '.join(down)}", file=sys.stderr)
            return 1
        notes: list[str] = []
        if not args.no_job:
            from fraudlake_flink import command as job_command

            notes = job_command.start_with_platform(ctx, sys.stdout, demo_traffic=not args.no_demo)
        if not args.no_sink:
            notes += _start_sink(ctx)
        demo_runs = not args.no_demo and not args.no_job and ctx.settings.demo_rate > 0
        optional = (("job", not args.no_job), ("sink", not args.no_sink), ("demo", demo_runs))
        store.want(
            *(name for name in report if name not in skip), *(n for n, on in optional if on), only=True
        )
        store.forgive()  # a person ran `up`: units left down get their chances again
    notes += _start_supervisor(ctx)
    if not args.no_superset:
        from fraudlake.platform.superset import DASHBOARDS, Superset

        url = Superset(ctx).url
        notes.append("dashboards: " + "  ".join(f"{url}/superset/dashboard/{slug}/" for slug in DASHBOARDS))
    print(f"\nplatform up in {time.monotonic() - started:.1f}s\n")
    print(_table(report))
    print(
        f"passwords: in {secrets_file(ctx.settings.home)} (mode 0600); "
        "./fraudlake status --show-secrets prints them"
    )
    for note in notes:
        print(note)
    return 0


def down(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake_flink import command as job_command

    _stop_supervisor(ctx)
    job_command.stop_with_platform(ctx, sys.stdout)
    _stop_sink(ctx)
    runner.down(ctx, sys.stdout)
    return 0


def status(ctx: Context, args: argparse.Namespace) -> int:
    report = runner.status(ctx, show_secrets=args.show_secrets)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_status(report)
        if report["flink"]["status"] == "up":
            from fraudlake_flink.command import job_line

            print(f"\n{job_line(ctx)}")
        from fraudlake_lake import service

        pid = service.daemon(ctx).running()
        state = f"running, pid {pid}" if pid else "not running (./fraudlake up starts it)"
        print(f"bronze sink: {state}")
    left_down = [name for name, state in Store.of(ctx).states().items() if state.left_down]
    if not args.json:
        _print_supervision(ctx)
    healthy = all(entry["status"] == "up" for entry in report.values()) and not left_down
    return 0 if healthy else 3


def _print_supervision(ctx: Context) -> None:
    """The supervisor's line, and what it restarted or left down."""
    from fraudlake.cli import supervise

    store = Store.of(ctx)
    pid = supervise.daemon(ctx).running()
    wanted = store.wanted()
    if pid:
        print(f"supervisor: running, pid {pid}, keeping up {', '.join(sorted(wanted)) or 'nothing'}")
    else:
        print("supervisor: not running (./fraudlake up starts it)")
    for name, state in sorted(store.states().items()):
        if state.left_down:
            print(f"\n{name} was {state.left_down['reason']}; last log lines:")
            for line in state.left_down["last_log_lines"]:
                print(f"    {line}")
        elif state.restarts:
            print(f"  {name}: {len(state.restarts)} restart(s) lately; {state.last}")


def reset(ctx: Context, args: argparse.Namespace) -> int:
    ask = (lambda _q: True) if args.yes else _ask

    def confirm(question: str) -> bool:
        if not ask(question):
            return False
        from fraudlake.simulator import demo

        _stop_supervisor(ctx)
        demo.stop(ctx)  # the daemons write into what is about to be wiped
        _stop_sink(ctx)
        return True

    return 0 if runner.reset(ctx, sys.stdout, confirm) else 1


def simulate(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.simulator.command import simulate as run_simulation

    return run_simulation(ctx, args)


def backtest(ctx: Context, args: argparse.Namespace) -> int:
    """On the platform, the live rules are the scoring job's (its newest run's file)."""
    from fraudlake.backtest.command import run

    if not args.input and not args.live:
        import psycopg

        from fraudlake_flink.control import Jobs
        from fraudlake_flink.spec import JOB_NAME

        try:
            runs = Jobs(ctx).registry.runs(JOB_NAME)
        except psycopg.OperationalError as exc:
            print(f"error: the platform's PostgreSQL: {exc} (./fraudlake up starts it; or give --input FILE)",
                  file=sys.stderr)  # fmt: skip
            return 2
        if runs and Path(runs[0].rules_path).is_file():
            args.live = Path(runs[0].rules_path)
    return run(ctx, args)


def watch(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.cli.watch import watch as follow_stream

    return follow_stream(ctx, args.stream, args.last, args.follow)


def sink(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake_lake.sink import run_forever

    return run_forever(ctx)


def install(ctx: Context, args: argparse.Namespace) -> int:
    """What `up` installs, nothing started: e.g. an image's build (docker/platform/Dockerfile)."""
    unknown = sorted(set(args.services) - set(runner.SERVICE_NAMES))
    if unknown:
        print(
            f"error: no such service: {', '.join(unknown)} (of {', '.join(runner.SERVICE_NAMES)})",
            file=sys.stderr,
        )
        return 2
    for name in args.services or runner.SERVICE_NAMES:
        service = runner.service_by_name(ctx, name)
        print(f"{name}: {'installed' if service.install() else 'cached'}")
    return 0


def airflow(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.platform.airflow import Airflow

    engine = Airflow(ctx)
    if args.component == "migrate":
        engine.migrate(engine.env())
        return 0
    engine.run_component(args.component)
    return 1  # not reached: the component replaced this process


def migrate(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.platform.postgres import Postgres

    Postgres(ctx).migrate_ops()
    print(f"ops tables and views up to date in {ctx.settings.pg_database}")
    return 0


def job(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake_flink.command import job as job_command

    return job_command(ctx, args)


def rules(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake_flink.command import deploy_conf, last_deployment

    if args.action == "approve":
        from datetime import UTC, datetime

        from fraudlake.rules import ruleset

        try:
            approved = ruleset.approve(args.file, args.by, datetime.now(UTC).isoformat(timespec="seconds"))
        except ruleset.RulesError as exc:
            print(f"error: rules: {exc}", file=sys.stderr)
            return 2
        assert approved.approval is not None
        print(f"  rules {approved.version} approved by {approved.approval.approved_by}; deploy them with:")
        print(f"  ./fraudlake rules deploy {args.file} --wait")
        return 0

    code, run_id = _trigger(ctx, "rules_deploy", args.wait, deploy_conf(ctx, args.file, args.gate_timeout))
    if args.wait:
        print(last_deployment(ctx, run_id))
    return code


def _lake_load(ctx: Context) -> int:
    from fraudlake.platform.minio import LAKE, Minio
    from fraudlake.platform.postgres import APP_ROLE, Postgres
    from fraudlake_lake import refresh

    loaded = refresh.load(Postgres(ctx).endpoint(APP_ROLE), Minio(ctx).client(LAKE), refresh.Scope())
    print(f"  loaded {loaded.objects:,} objects ({loaded.rows:,} rows); {loaded.skipped:,} already loaded")
    return 0


def lake(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "load":
        return _lake_load(ctx)
    from fraudlake_lake.stats import lake_stats, render

    report = lake_stats(ctx)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def lakehouse(ctx: Context, args: argparse.Namespace) -> int:
    """`lakehouse build` (load, then dbt build) or `lakehouse docs`, in the foreground on the
    platform's own Bronze and schemas; `lakehouse refresh` through Airflow."""
    step = args.action
    if step == "refresh":
        return _trigger(ctx, "lakehouse_refresh", args.wait)[0]
    from fraudlake.platform.postgres import TRANSFORM_ROLE, Postgres
    from fraudlake_lake import refresh

    if step == "build":
        _lake_load(ctx)
    db, scope, state = Postgres(ctx).endpoint(TRANSFORM_ROLE), refresh.Scope(), ctx.settings.home / "dbt"
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
    from fraudlake.platform.runner import Progress
    from fraudlake_lake import service

    with Progress(sys.stdout).step("start bronze sink") as notes:
        notes.append(f"pid {service.start(ctx)}")
    log = service.daemon(ctx).log_file
    return [f"bronze sink: every topic into s3://bronze as Parquet (./fraudlake lake stats; log {log})"]


def _stop_sink(ctx: Context) -> None:
    from fraudlake.platform.runner import Progress
    from fraudlake_lake import service

    with Progress(sys.stdout).step("stop bronze sink") as notes:
        notes.append("flushed and stopped" if service.stop(ctx) else "was not running")


def _start_supervisor(ctx: Context) -> list[str]:
    from fraudlake.cli import supervise
    from fraudlake.platform.runner import Progress

    with Progress(sys.stdout).step("start supervisor") as notes:
        supervise.stop(ctx)  # one already running keeps the settings and code it started with
        notes.append(f"pid {supervise.start(ctx)}")
    log = supervise.daemon(ctx).log_file
    return [
        f"supervisor: restarts whatever dies, leaves down what keeps dying (./fraudlake status; log {log})"
    ]


def _stop_supervisor(ctx: Context) -> None:
    """First, so that nothing stopped on purpose is started again."""
    from fraudlake.cli import supervise
    from fraudlake.platform.runner import Progress

    store = Store.of(ctx)
    with store.lifecycle():  # a restart under way ends first; none starts after this
        store.want(only=True)
    with Progress(sys.stdout).step("stop supervisor") as notes:
        notes.append("stopped" if supervise.stop(ctx) else "was not running")


def supervise(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.cli.supervise import run

    return run(ctx)


def score(ctx: Context, args: argparse.Namespace) -> int:
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


def superset(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.dashboards import bundle, importer
    from fraudlake.platform.superset import Superset

    superset = Superset(ctx)
    if args.action == "import":
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
        users = [(connection["access_key"], connection.get("secret_key", "***"))]
        users += [(user, entry.get("secret_key", "***")) for user, entry in connection["users"].items()]
        return f"{connection['endpoint']}  console {connection['console']}", (
            ", ".join(f"{user}/{secret}" for user, secret in users)
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


def logs(ctx: Context, args: argparse.Namespace) -> int:
    name, lines, follow = args.service, args.lines, args.follow
    from fraudlake.cli import supervise
    from fraudlake.simulator import demo
    from fraudlake_lake import service as sink

    daemons = {"sink": sink.daemon, "demo": demo.daemon, "supervisor": supervise.daemon}
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


COMMANDS: dict[str, Handler] = {
    "up": up,
    "down": down,
    "status": status,
    "logs": logs,
    "simulate": simulate,
    "score": score,
    "backtest": backtest,
    "job": job,
    "rules": rules,
    "watch": watch,
    "sink": sink,
    "install": install,
    "airflow": airflow,
    "migrate": migrate,
    "supervise": supervise,
    "lake": lake,
    "lakehouse": lakehouse,
    "superset": superset,
    "reset": reset,
}
