"""A backtest on the platform, as DAG `rules_backtest` runs it: the history from PostgreSQL, the
files in a folder named by the run, the figures in `ops.backtest_*`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fraudlake.backtest import inputs, record
from fraudlake.backtest.figures import Budget
from fraudlake.backtest.runs import NothingToBacktest, Request, execute, write
from fraudlake.backtest.tune import Objective
from fraudlake.platform.postgres import Endpoint
from fraudlake.rules import ruleset


def run_and_record(
    db: Endpoint, run_id: str, kind: str, params: dict[str, Any], live_path: str | None, folder: Path
) -> dict[str, Any]:
    """One `backtest` (the live rules) or `tuning` run; what it found, or why it had nothing to do."""
    live = ruleset.load(Path(live_path)) if live_path and Path(live_path).is_file() else ruleset.load()
    request = Request(
        rules=live,
        live=live,
        labels=params["labels"],
        chargeback_window_days=params["chargeback_window_days"],
        as_of_ms=int(time.time() * 1000),
        budget=Budget.parse(params["budget"]),
        tune=kind == "tuning",
        objective=Objective(params["objective"], float(params["alert_cost_eur"])),
        holdout_share=float(params["holdout_share"]),
    )
    with db.connect() as conn:
        history = inputs.from_postgres(conn, params["bronze_schema"])
        try:
            result, candidate = execute(history, request)
        except NothingToBacktest as exc:
            print(f"nothing to do: {exc}")
            return {"skipped": str(exc)}
        candidate_file = write(folder, result, candidate, f"rules_backtest run {run_id}")
        tuning = result.get("tuning") or {}
        record.record(
            conn,
            {
                "run_id": run_id,
                "kind": kind,
                "requested_by": params["requested_by"],
                "labels": result["labels"],
                "period_from": result["period"]["from"],
                "period_to": result["period"]["to"],
                "budget": result["budget"],
                "objective": tuning.get("objective"),
                "live_version": live.version,
                "tested_version": result["tested"]["version"],
                "candidate_version": candidate.version if candidate else None,
                "holdout_from": tuning["holdout"]["from"] if tuning else None,
                "folder": str(folder),
            },
            result,
        )
    summary = {"folder": str(folder), "candidate": str(candidate_file) if candidate_file else None}
    print((folder / "report.md").read_text())
    return summary
