"""The `fraudlake` command line: its parser, and one handler per command (`commands.py`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fraudlake.backtest import command as backtest
from fraudlake.cli.commands import COMMANDS
from fraudlake.config import ConfigError, Settings
from fraudlake.platform import state_folder
from fraudlake.platform.airflow import COMPONENTS as AIRFLOW_COMPONENTS
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.runner import SERVICE_NAMES
from fraudlake_flink.spec import JOB_NAME


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
        "service",
        choices=["postgres", "kafka", "minio", "flink", "airflow", "superset", "sink", "demo", "supervisor"],
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
    backtest.add_parser(sub)
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
    start.add_argument(
        "--unless-running", action="store_true", help="a job already running is success, not an error"
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
    approve = rules_sub.add_parser("approve", help="record in a proposed rules file that you approve it")
    approve.add_argument("file", type=Path, help="a tuning run's candidate rules.yaml")
    approve.add_argument("--by", required=True, help="your name, as the file will record it")
    watch = sub.add_parser("watch", help="print the latest alerts, decisions or rejected input")
    watch.add_argument("stream", choices=["alerts", "scores", "dlq"])
    watch.add_argument("-n", "--last", type=int, default=20, help="records per partition to show first")
    watch.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    sub.add_parser("sink", help="land every topic in MinIO Bronze as Parquet (foreground; `up` runs it)")
    install = sub.add_parser("install", help="install engines (pinned, cached) without starting them")
    install.add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"of {', '.join(SERVICE_NAMES)} (default: all)"
    )
    airflow = sub.add_parser(
        "airflow", help="one Airflow component in the foreground, configured as `up` does (containers)"
    )
    airflow.add_argument("component", choices=["migrate", *AIRFLOW_COMPONENTS])
    sub.add_parser("migrate", help="create or update the ops tables and views (`up` does it)")
    sub.add_parser(
        "supervise", help="restart what dies, leave down what keeps dying (foreground; `up` runs it)"
    )
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
        if args.command != "reset":  # reset claims only a folder that exists
            state_folder.claim(ctx.settings.home)
        code = COMMANDS[args.command](ctx, args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except ConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    except PlatformError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
