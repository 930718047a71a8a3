"""Benchmark: warm `fraudlake up` time and the idle memory of the running platform.

Stops the platform, starts it again from the warm cache (timed), lets it idle, then sums the
resident memory of every process tree we own. Prints the figures and writes them to
benchmarks/results/platform-footprint.json. Targets (issue 2): warm up <= 90 s, idle RSS <= 4 GiB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "platform-footprint.json"
IDLE_SECONDS = 30


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudlake.cli", *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def main() -> None:
    _cli("down")
    started = time.monotonic()
    done = _cli("up")
    warm_up_s = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"fraudlake up failed:\n{done.stdout}\n{done.stderr}")
    time.sleep(IDLE_SECONDS)
    report = json.loads(_cli("status", "--json").stdout)
    rss = {name: entry["rss_mb"] for name, entry in report.items()}
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "warm_up_seconds": round(warm_up_s, 1),
        "warm_up_target_seconds": 90,
        "idle_after_seconds": IDLE_SECONDS,
        "idle_rss_mb": rss,
        "idle_rss_total_mb": sum(rss.values()),
        "idle_rss_target_mb": 4096,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
