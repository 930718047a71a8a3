"""Benchmark: what the scoring job's lifecycle costs on the running platform, at its current state.

- Savepoints (RUNS, the job keeps running): size and duration, as `fraudlake job savepoint` records.
- A rules deploy through Airflow and back (`fraudlake rules deploy --wait`): time from trigger to
  the new job RUNNING and to the end of the run, and the gap in decisions (scored_at of the last
  decision by the old rules to the first by the new), from the registry and the gate.
- Recovery after kill -9 of the TaskManager, then of the JobManager, each followed by `fraudlake
  up` (what brings a dead process back today): seconds from the kill until the job and every task
  are RUNNING again, and where the job resumed from.

Run on a platform with demo traffic (`./fraudlake up`, the job caught up). Prints the figures and
writes them to benchmarks/results/job-lifecycle.json. It changes the running job: deploys a copy
of its rules under another version and then the original file again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from fraudlake.config import Settings
from fraudlake.platform import process
from fraudlake.platform.context import Context
from fraudlake_flink.control import Jobs
from fraudlake_flink.spec import JOB_NAME

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "job-lifecycle.json"
RUNS = 3


def _cli(*args: str) -> str:
    done = subprocess.run([str(ROOT / "fraudlake"), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"fraudlake {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _running_again(jobs: Jobs, began: float, timeout: float = 300) -> tuple[float, str]:
    while time.monotonic() - began < timeout:
        job = jobs.find(JOB_NAME)
        if job and job["state"] == "RUNNING":
            vertices = jobs.flink.rest(f"/jobs/{job['jid']}")["vertices"]
            if all(v["status"] == "RUNNING" for v in vertices):
                return time.monotonic() - began, str(job["jid"])
        time.sleep(0.5)
    raise SystemExit(f"{JOB_NAME} not RUNNING {timeout} s after the kill")


def savepoints(jobs: Jobs) -> list[dict[str, Any]]:
    taken = []
    for _ in range(RUNS):
        savepoint = jobs.savepoint(JOB_NAME)
        taken.append({"bytes": savepoint.size_bytes, "ms": savepoint.duration_ms, "path": savepoint.path})
        time.sleep(5)
    return taken


def deploy(jobs: Jobs, rules: Path) -> dict[str, Any]:
    before = jobs.find(JOB_NAME)
    began = time.time()
    printed = _cli("rules", "deploy", str(rules), "--wait")
    ended = time.time()
    record = jobs.registry.deployments(JOB_NAME)[0]
    new = jobs.registry.run(str(record.job_after))
    assert new is not None and before is not None and new.job_id != before["jid"], printed
    live = new.started_at.timestamp() if new.started_at else ended  # recorded once flink run returned
    return {
        "rules": f"{record.rules_before} -> {record.rules_after}",
        "result": record.result,
        "trigger_to_new_job_submitted_s": round(live - began, 1),
        "trigger_to_end_s": round(ended - began, 1),
        "gate": record.detail,
    }


def recover(jobs: Jobs, proc: str) -> dict[str, Any]:
    pid = jobs.flink.running()[proc]
    assert pid is not None, f"{proc} is not running"
    began = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while process.alive(pid):
        time.sleep(0.05)
    started = [line.strip() for line in _cli("up").splitlines() if "start scoring job" in line]
    seconds, job_id = _running_again(jobs, began)
    return {"killed": proc, "kill_to_running_s": round(seconds, 1), "job_id": job_id, "up_said": started}


def main() -> None:
    jobs = Jobs(Context(Settings.from_env()))
    running = jobs.find(JOB_NAME)
    if running is None:
        raise SystemExit(f"{JOB_NAME} is not running: ./fraudlake up first")
    current = jobs.run_of(running)
    document = yaml.safe_load(Path(current.rules_path).read_text())
    document["version"] = f"{document['version']}-bench"
    with tempfile.TemporaryDirectory() as folder:
        bench_rules = Path(folder) / "bench.yaml"
        bench_rules.write_text(yaml.safe_dump(document))
        original = Path(folder) / "original.yaml"
        original.write_text(Path(current.rules_path).read_text())
        results = {
            "savepoints": savepoints(jobs),
            "deploys": [deploy(jobs, bench_rules), deploy(jobs, original)],
            "recoveries": [recover(jobs, "flink-taskmanager"), recover(jobs, "flink-jobmanager")],
        }
    print(json.dumps(results, indent=2))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
