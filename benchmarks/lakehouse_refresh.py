"""Benchmark: one lakehouse_refresh run (Airflow) over EVENTS payments in Bronze, in one command.

  1. the simulator replays EVENTS payments (and their chargebacks) into private topics; the batch
     scorer (the rules engine both scorers share) adds their decisions and alerts; the real Bronze
     sink lands all four topics in a private bucket, as it does in production (a backfill);
  2. baseline: read every Bronze object from MinIO and decode it (the I/O no refresh can avoid);
  3. Airflow's idle memory (the process tree of `airflow standalone`, before any run of ours:
     RSS summed over its processes, and PSS, which counts pages shared between forks once);
  4. lakehouse_refresh through the REST API, scoped by run conf to the private bucket and schemas:
     first (everything new), again (nothing new), and after 1% more payments (steady state);
     per run its wall time and each task's duration.
Writes benchmarks/results/lakehouse-refresh.json.
Usage: python benchmarks/lakehouse_refresh.py [EVENTS]   (default 1000000)
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from psycopg import sql

from fraudlake.config import Settings
from fraudlake.contract import ALERT, CHARGEBACK, DECISION, PAYMENT, Alert, Payment, alert_id_of
from fraudlake.platform.airflow import Airflow
from fraudlake.platform.context import Context
from fraudlake.platform.footprint import tree_pss_bytes, tree_rss_bytes
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.minio import Minio, read_object
from fraudlake.platform.postgres import SUPERUSER, Postgres
from fraudlake.platform.runner import status
from fraudlake.rules import ruleset
from fraudlake.rules.history import score_stream
from fraudlake.simulator.generator import SimConfig, Simulation, all_customers
from fraudlake.topics import CHARGEBACKS, FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS
from fraudlake_lake import bronze
from fraudlake_lake.sink import BronzeSink

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "lakehouse-refresh.json"
DAY_MS = 86_400_000
KINDS = (PAYMENTS.name, PAYMENT_SCORES.name, FRAUD_ALERTS.name, CHARGEBACKS.name)


class Lake:
    """Private topics, bucket and schemas standing in for the platform's."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        suffix = uuid.uuid4().hex[:6]
        self.topics = {kind: f"bench-lh-{kind}-{suffix}" for kind in KINDS}
        self.bucket = bronze.BUCKET  # the lake's MinIO user reads that bucket only; the topics are private
        self.schema = f"bench_bronze_{suffix}"
        self.prefix = f"bench{suffix}_"
        self.kafka = Kafka(ctx)
        self.kafka.create_topics(dict.fromkeys(self.topics.values(), 6))
        self.client = Minio(ctx).client()
        self.producer = Producer({"bootstrap.servers": self.kafka.bootstrap, "linger.ms": 50})
        self.sent = 0

    def send(self, kind: str, key: str, value: bytes, timestamp: int) -> None:
        while True:
            try:
                self.producer.produce(self.topics[kind], value, key.encode(), timestamp=timestamp)
                break
            except BufferError:
                self.producer.poll(0.1)
        self.sent += 1

    def simulate(self, config: SimConfig) -> int:
        """Payments and chargebacks as simulated, decisions and alerts from the batch scorer."""
        payments: dict[str, Payment] = {}
        for item in Simulation(config).items():
            if item.payment is not None:
                payments[item.payment.payment_id] = item.payment
                self.send(PAYMENTS.name, item.key, PAYMENT.to_json(item.payment), item.time_ms)
            elif item.chargeback is not None:
                self.send(CHARGEBACKS.name, item.key, CHARGEBACK.to_json(item.chargeback), item.time_ms)
        profiles = {c.profile.customer_id: c.profile for c in all_customers(config)}
        for decision in score_stream(payments.values(), profiles, ruleset.load(), scored_at=0):
            decision = replace(decision, scored_at=decision.event_time + 150)
            self.send(
                PAYMENT_SCORES.name, decision.customer_id, DECISION.to_json(decision), decision.scored_at
            )
            if decision.is_alert:
                payment = payments[decision.payment_id]
                alert = Alert(
                    *(getattr(decision, f) for f in DECISION.names),
                    alert_id_of(decision.payment_id, decision.rules_version),
                    payment.amount,
                    payment.currency,
                    payment.merchant_id,
                )
                self.send(FRAUD_ALERTS.name, alert.customer_id, ALERT.to_json(alert), decision.scored_at)
        self.producer.flush()
        return len(payments)

    def land(self) -> float:
        """Run the Bronze sink until it wrote everything sent so far; seconds."""
        sink = BronzeSink(
            self.ctx,
            {topic: kind for kind, topic in self.topics.items()},
            bucket=self.bucket,
            group_id=f"bench-lh-{self.schema}",
            minio=self.client,
        )

        def stop_when_all_read() -> None:
            while sink.written + sum(len(b.messages) for b in list(sink.buffers.values())) < self.sent:
                time.sleep(0.05)
            sink.stopping.set()

        threading.Thread(target=stop_when_all_read, daemon=True).start()
        started = time.monotonic()
        sink.run()
        self.sent = 0
        return time.monotonic() - started

    def read_all_objects(self) -> dict[str, Any]:
        started = time.monotonic()
        objects = rows = size = 0
        entries = [
            entry
            for topic in self.topics.values()
            for entry in self.client.list_objects(self.bucket, prefix=f"{topic}/", recursive=True)
        ]
        for entry in entries:
            data = read_object(self.client, self.bucket, entry.object_name)
            rows += bronze.read_parquet(data).num_rows
            objects, size = objects + 1, size + len(data)
        seconds = time.monotonic() - started
        return {"objects": objects, "rows": rows, "mb": round(size / 2**20, 1), "seconds": round(seconds, 1)}

    def conf(self) -> dict[str, Any]:
        return {
            "topics": {topic: kind for kind, topic in self.topics.items()},
            "bucket": self.bucket,
            "bronze_schema": self.schema,
            "schema_prefix": self.prefix,
        }

    def close(self) -> None:
        with Postgres(self.ctx).connect(SUPERUSER) as conn:  # dbt's schemas are its role's
            for schema in (self.schema, *(self.prefix + s for s in ("staging", "silver", "gold"))):
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            conn.commit()
        self.kafka.delete_topics(*self.topics.values())
        bronze.remove_topics(self.client, self.bucket, self.topics.values())


def refresh(airflow: Airflow, lake: Lake) -> dict[str, Any]:
    run_id = airflow.trigger("lakehouse_refresh", lake.conf())
    run = airflow.wait_for_run("lakehouse_refresh", run_id, timeout=3600)
    path = f"/api/v2/dags/lakehouse_refresh/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
    tasks = {t["task_id"]: round(t["duration"] or 0, 1) for t in airflow.api("GET", path)["task_instances"]}
    result = {"state": run.state, "seconds": round(run.seconds, 1), "task_seconds": tasks}
    print(f"  refresh: {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    ctx = Context(Settings.from_env())
    airflow = Airflow(ctx)
    pids = status(ctx)["airflow"]["pids"].values()
    idle = {
        "rss_mb": round(sum(map(tree_rss_bytes, pids)) / 2**20),
        "pss_mb": round(sum(map(tree_pss_bytes, pids)) / 2**20),
    }
    lake = Lake(ctx)
    try:
        now = int(time.time() * 1000)
        config = SimConfig(seed=11, events=events, start_ms=now - 150 * DAY_MS, window_ms=28 * DAY_MS)
        started = time.monotonic()
        payments = lake.simulate(config)
        print(
            f"  {payments:,} payments simulated and scored in {time.monotonic() - started:.0f}s", flush=True
        )
        landed_s = lake.land()
        baseline = lake.read_all_objects()
        print(f"  landed in {landed_s:.0f}s; baseline read {json.dumps(baseline)}", flush=True)
        first = refresh(airflow, lake)
        again = refresh(airflow, lake)
        more = replace(config, seed=12, events=events // 100, start_ms=now - 100 * DAY_MS, window_ms=DAY_MS)
        lake.simulate(more)
        lake.land()
        steady = refresh(airflow, lake)
    finally:
        lake.close()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "payments": payments,
        "bronze": baseline,
        "airflow_idle": idle,
        "refresh_first": first,
        "refresh_first_vs_baseline_read": round(first["seconds"] / baseline["seconds"], 1),
        "refresh_nothing_new": again,
        "refresh_after_1pct_more": steady,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
