"""Benchmark: the fault suite on the running platform (tests/integration/fault_harness.py).

Under demo traffic, nobody running `up`: kill -9 of every platform process in turn (PostgreSQL,
Kafka, MinIO, JobManager, TaskManager, Airflow, Superset, the Bronze sink, the demo), MinIO and
PostgreSQL stopped for 30 s, Kafka restarted. After each: recovery time, and end to end what was
lost or doubled from `payments` to Gold. Prints the table and writes
benchmarks/results/fault-suite.json.

    .venv/bin/python benchmarks/fault_suite.py ["kill -9 kafka" ...]   # default: every fault
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.fault_harness import FAULTS, Outcome, run, table, unhealthy, with_demo  # noqa: E402

from fraudlake.config import Settings  # noqa: E402
from fraudlake.platform.context import Context  # noqa: E402
from fraudlake_flink.control import Jobs  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "fault-suite.json"


def main(names: list[str]) -> int:
    ctx = Context(Settings.from_env())
    problem = unhealthy(ctx, Jobs(ctx))
    if problem and not problem.startswith("demo"):
        raise SystemExit(f"the platform is not whole ({problem}): ./fraudlake up first")
    unknown = set(names) - {f.name for f in FAULTS}
    if unknown:
        raise SystemExit(f"unknown faults {sorted(unknown)}; known: {[f.name for f in FAULTS]}")
    faults = tuple(f for f in FAULTS if not names or f.name in names)
    began = time.monotonic()

    def report(outcome: Outcome) -> None:
        print(f"{time.monotonic() - began:6.0f} s  {json.dumps(asdict(outcome))}", flush=True)

    outcomes = with_demo(ctx, lambda: run(ctx, faults, report))
    rows = {o.fault: asdict(o) for o in outcomes}
    dates = [time.strftime("%Y-%m-%d %H:%M")]
    if names and RESULTS.exists():  # a rerun of some faults keeps the other rows of the last run
        earlier = json.loads(RESULTS.read_text())
        rows = {row["fault"]: row for row in earlier["outcomes"]} | rows
        dates += earlier.get("dates", [earlier.get("date")])
    order = ["none (baseline)", *(f.name for f in FAULTS)]
    merged = [Outcome(**rows[name]) for name in order if name in rows]
    print(table(merged))
    results = {
        "dates": dates,
        "suite_seconds": round(time.monotonic() - began),
        "longest_recovery_s": max(o.recovery_s for o in merged),
        "clean": all(o.clean for o in merged),
        "outcomes": [asdict(o) for o in merged],
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if results["clean"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
