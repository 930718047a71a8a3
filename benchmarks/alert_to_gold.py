"""Measure: alert -> Gold delay of the running platform (demo traffic, sink, scheduled refreshes).

For every alert in bronze.fraud_alerts: the run of lakehouse_refresh whose load_bronze loaded it
(its loaded_at lies inside that task's start and end) published it when that run's
build_silver_gold ended. Delay = that end - the alert's Kafka timestamp. It adds the sink's flush
wait (FRAUDLAKE_SINK_FLUSH_SECONDS), the wait for the next scheduled run and the run itself.
Run it after the platform has been up with demo traffic for a few schedule intervals.
Writes benchmarks/results/alert-to-gold.json.
Usage: python benchmarks/alert_to_gold.py
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any

from fraudlake.config import Settings
from fraudlake.platform.airflow import Airflow
from fraudlake.platform.context import Context
from fraudlake.platform.postgres import APP_ROLE, Postgres

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "alert-to-gold.json"


def runs(airflow: Airflow) -> list[dict[str, Any]]:
    """Successful runs with their load window and publish time."""
    found = []
    listed = airflow.api("GET", "/api/v2/dags/lakehouse_refresh/dagRuns?limit=100&state=success")
    for run in listed["dag_runs"]:
        path = f"/api/v2/dags/lakehouse_refresh/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
        tasks = {t["task_id"]: t for t in airflow.api("GET", f"{path}/taskInstances")["task_instances"]}
        found.append(
            {
                "run_id": run["dag_run_id"],
                "type": run["run_type"],
                "load_start": datetime.fromisoformat(tasks["load_bronze"]["start_date"]),
                "load_end": datetime.fromisoformat(tasks["load_bronze"]["end_date"]),
                "published": datetime.fromisoformat(tasks["build_silver_gold"]["end_date"]),
            }
        )
    return sorted(found, key=lambda r: r["load_start"])


def main() -> None:
    ctx = Context(Settings.from_env())
    published = runs(Airflow(ctx))
    with Postgres(ctx).connect(APP_ROLE) as conn:
        alerts = conn.execute("select kafka_timestamp, loaded_at from bronze.fraud_alerts").fetchall()
    delays = []
    for received, loaded in alerts:
        run = next((r for r in published if r["load_start"] <= loaded <= r["load_end"]), None)
        if run is not None:
            delays.append((run["published"] - received).total_seconds())
    delays.sort()
    scheduled = [r for r in published if r["type"] == "scheduled"]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "runs": len(published),
        "scheduled_runs": len(scheduled),
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
        "run_seconds": [round((r["published"] - r["load_start"]).total_seconds()) for r in scheduled],
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
