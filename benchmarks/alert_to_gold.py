"""Measure: alert -> Gold delay of the running platform (demo traffic, sink, scheduled refreshes).

For every alert in bronze.fraud_alerts: the run of lakehouse_refresh whose load_bronze loaded it
(its loaded_at lies inside that task's start and end) published it when that run's
build_silver_gold ended. Delay = that end - the alert's Kafka timestamp. It adds the sink's flush
wait (FRAUDLAKE_SINK_FLUSH_SECONDS), the wait for the next scheduled run and the run itself.
Only scheduled runs that started after SINCE count (manual runs, e.g. the tests', are not the
default schedule). Run it after the platform has been up with demo traffic for a few intervals,
or with --watch MINUTES: then it watches that long first, counts the runs that start meanwhile and
also reports what the schedule costs: Airflow's CPU time over the window (its whole process tree,
task processes included) as a share of one core.
Writes benchmarks/results/alert-to-gold-<interval>min.json.
Usage: python benchmarks/alert_to_gold.py [SINCE (ISO time, UTC; default: all) | --watch MINUTES]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraudlake.config import Settings
from fraudlake.platform.airflow import Airflow
from fraudlake.platform.context import Context
from fraudlake.platform.footprint import tree_cpu_seconds
from fraudlake.platform.postgres import APP_ROLE, Postgres
from fraudlake.platform.runner import status

RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def runs(airflow: Airflow, since: datetime) -> list[dict[str, Any]]:
    """Successful scheduled runs since `since`, with their load window and publish time."""
    found = []
    query = "limit=100&state=success&run_type=scheduled&order_by=-start_date"
    for run in airflow.api("GET", f"/api/v2/dags/lakehouse_refresh/dagRuns?{query}")["dag_runs"]:
        if datetime.fromisoformat(run["start_date"]) < since:
            continue
        path = f"/api/v2/dags/lakehouse_refresh/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
        tasks = {t["task_id"]: t for t in airflow.api("GET", f"{path}/taskInstances")["task_instances"]}
        found.append(
            {
                "run_id": run["dag_run_id"],
                "load_start": datetime.fromisoformat(tasks["load_bronze"]["start_date"]),
                "load_end": datetime.fromisoformat(tasks["load_bronze"]["end_date"]),
                "published": datetime.fromisoformat(tasks["build_silver_gold"]["end_date"]),
            }
        )
    return sorted(found, key=lambda r: r["load_start"])


def main() -> None:
    ctx = Context(Settings.from_env())
    cost = None
    if sys.argv[1:2] == ["--watch"]:
        minutes = float(sys.argv[2])
        since = datetime.now(UTC)
        pids = status(ctx)["airflow"]["pids"].values()
        cpu_before, started = sum(map(tree_cpu_seconds, pids)), time.monotonic()
        time.sleep(minutes * 60)
        seconds = time.monotonic() - started
        cpu = sum(map(tree_cpu_seconds, pids)) - cpu_before
        cost = {
            "window_s": round(seconds),
            "airflow_cpu_s": round(cpu),
            "share_of_one_core": round(cpu / seconds, 3),
        }
    else:
        since = datetime.fromisoformat(sys.argv[1] if len(sys.argv) > 1 else "2000-01-01T00:00:00+00:00")
    published = runs(Airflow(ctx), since)
    with Postgres(ctx).connect(APP_ROLE) as conn:
        alerts = conn.execute("select kafka_timestamp, loaded_at from bronze.fraud_alerts").fetchall()
    delays = []
    for received, loaded in alerts:
        run = next((r for r in published if r["load_start"] <= loaded <= r["load_end"]), None)
        if run is not None:
            delays.append((run["published"] - received).total_seconds())
    delays.sort()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "interval_minutes": ctx.settings.lakehouse_interval_minutes,
        "flush_seconds": ctx.settings.sink_flush_seconds,
        "scheduled_runs": len(published),
        "alerts_measured": len(delays),
        "alerts_in_bronze": len(alerts),
        "delay_s": {
            "p50": round(delays[len(delays) // 2]),
            "p95": round(delays[int(len(delays) * 0.95)]),
            "max": round(delays[-1]),
            "mean": round(statistics.fmean(delays)),
        }
        if delays
        else None,
        "run_seconds": [round((r["published"] - r["load_start"]).total_seconds()) for r in published],
        "airflow_cost": cost,
    }
    (RESULTS_DIR / f"alert-to-gold-{result['interval_minutes']}min.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
