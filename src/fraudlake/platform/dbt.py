"""dbt's own cached virtual environment: dbt-core and Airflow/Flink pin different libraries.

Keyed by its pins under the shared cache; the lakehouse steps (fraudlake_lake.dbt) run dbt from it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fraudlake.platform import artifacts
from fraudlake.platform.context import Context

REQUIREMENTS = ("dbt-postgres==1.11.0", "dbt-core==1.11.16")
"""Pinned together: unpinned, pip picks a dbt-core beta whose parser wants the internet (ENGINES.md)."""


def venv(ctx: Context) -> Path:
    key = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()[:10]
    return ctx.cache("venvs", f"dbt-{key}")


def install(ctx: Context) -> bool:
    """Build the venv unless cached; True if it was built."""
    return artifacts.ensure_dir(
        venv(ctx), lambda dest: artifacts.python_venv("dbt", dest, list(REQUIREMENTS)), in_place=True
    )
