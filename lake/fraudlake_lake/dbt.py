"""dbt (the project in dbt/) run from its own venv (fraudlake.platform.dbt), as a subprocess.

The CLI and the lakehouse refresh call it; it connects through environment variables.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from fraudlake.config import PROJECT_ROOT
from fraudlake.platform import dbt as dbt_venv
from fraudlake.platform.context import Context
from fraudlake.platform.postgres import TRANSFORM_ROLE, Endpoint, Postgres

PROJECT = PROJECT_ROOT / "dbt"


def run(
    ctx: Context,
    *args: str,
    variables: Mapping[str, str] | None = None,
    endpoint: Endpoint | None = None,
    state: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`dbt ARGS` on the project, output captured. It connects to `endpoint` (default: the
    platform's transform role) and keeps target and logs in `state` (default: <home>/dbt), so that
    callers running side by side (the CLI, Airflow's tasks) do not share a target folder."""
    dbt_venv.install(ctx)
    db = endpoint or Postgres(ctx).endpoint(TRANSFORM_ROLE)
    state = state or ctx.settings.home / "dbt"
    env = {
        **os.environ,
        "FRAUDLAKE_DBT_HOST": db.host,
        "FRAUDLAKE_DBT_PORT": str(db.port),
        "FRAUDLAKE_DBT_USER": db.user,
        "FRAUDLAKE_DBT_PASSWORD": db.password,
        "FRAUDLAKE_DBT_DATABASE": db.database,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
        "DBT_TARGET_PATH": str(state / "target"),
        "DBT_LOG_PATH": str(state / "logs"),
        "DBT_PACKAGES_INSTALL_PATH": str(state / "packages"),
    }
    argv = [
        str(dbt_venv.venv(ctx) / "bin" / "dbt"),
        *args,
        "--project-dir",
        str(PROJECT),
        "--profiles-dir",
        str(PROJECT),
    ]
    if variables:
        argv += ["--vars", "{" + ", ".join(f"{k}: '{v}'" for k, v in variables.items()) + "}"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800, check=False)


def freshness(state: Path) -> dict[str, str]:
    """Source -> its verdict in the last `dbt source freshness`: pass, warn, error (stale past
    error_after) or empty (no row at all: dbt reports it as year 1, i.e. stale)."""
    path = state / "target" / "sources.json"
    if not path.exists():
        return {}
    verdicts = {}
    for result in json.loads(path.read_text())["results"]:
        empty = str(result.get("max_loaded_at", "")).startswith("0001-")
        verdicts[result["unique_id"].split(".", 2)[2]] = "empty" if empty else str(result["status"])
    return verdicts


def failures(state: Path) -> list[str]:
    """Nodes that failed or errored in the last invocation, e.g. `test severity_agrees_with_score`."""
    path = state / "target" / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())["results"]
    return [
        f"{r['unique_id'].split('.')[0]} {r['unique_id'].split('.')[2]}"
        for r in results
        if r["status"] in {"fail", "error", "runtime error"}
    ]
