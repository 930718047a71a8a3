"""Benchmark: what Superset costs on the running platform, and how fast its dashboards draw.

- Idle memory of Superset's process tree (RSS and PSS: gunicorn's worker shares pages with its
  master), after IDLE_SECONDS without requests.
- The time Superset adds to `fraudlake up`: a warm `up` with everything running, paired against
  `up --no-superset` in the same command (RUNS each, alternating); and a restart of Superset alone
  (stopped, venv cached: start + import).
- Each dashboard's load time in headless Chromium, navigation to the last chart drawn (RUNS each),
  and a screenshot of each into docs/superset/ (the README shows them).

Run on a platform with demo data (`./fraudlake up`, a few minutes of traffic). Prints the figures
and writes them to benchmarks/results/superset-dashboards.json.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fraudlake.config import Settings
from fraudlake.platform.context import Context
from fraudlake.platform.footprint import tree_pss_bytes, tree_rss_bytes
from fraudlake.platform.superset import ADMIN, DASHBOARDS, Superset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.superset_harness import open_dashboards  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "superset-dashboards.json"
SHOTS = ROOT / "docs" / "superset"
RUNS = 3
IDLE_SECONDS = 30


def _cli(*args: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fraudlake.cli", *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        sys.exit(f"fraudlake {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.monotonic() - started, done.stdout


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def _step_seconds(output: str, step: str) -> float:
    match = re.search(rf"{step} \.\.\. ([0-9.]+)s", output)
    return float(match.group(1)) if match else float("nan")


def main() -> None:
    ctx = Context(Settings.from_env())
    superset = Superset(ctx)
    with_superset, without = [], []
    for _ in range(RUNS):
        with_superset.append(_cli("up", "--no-demo")[0])
        without.append(_cli("up", "--no-demo", "--no-superset")[0])
    superset.stop()
    _, restart = _cli("up", "--no-demo")
    restart_s = _step_seconds(restart, "start superset") + _step_seconds(restart, "provision superset")
    time.sleep(IDLE_SECONDS)
    pid = superset.running()["superset"]
    assert pid is not None
    idle = {"rss_mb": round(tree_rss_bytes(pid) / 2**20), "pss_mb": round(tree_pss_bytes(pid) / 2**20)}
    SHOTS.mkdir(parents=True, exist_ok=True)
    loads: dict[str, list[float]] = {slug: [] for slug in DASHBOARDS}
    for run in range(RUNS):
        shots = {slug: str(SHOTS / f"{slug}.png") for slug in DASHBOARDS} if run == 0 else None
        for result in open_dashboards(
            superset.url, ADMIN, ctx.secrets["superset_admin_password"], list(DASHBOARDS), shots
        ):
            if result.failed:
                print(f"warning: {result.slug}: {result.failed}", file=sys.stderr)
            loads[result.slug].append(result.load_seconds)
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "runs": RUNS,
        "idle_after_seconds": IDLE_SECONDS,
        "superset_idle_memory": idle,
        "warm_up_seconds": {"with_superset": _spread(with_superset), "without_superset": _spread(without)},
        "warm_up_added_seconds_median": round(
            statistics.median(with_superset) - statistics.median(without), 2
        ),
        "superset_restart_seconds": round(restart_s, 1),
        "dashboard_load_seconds": {slug: _spread(values) for slug, values in loads.items()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
