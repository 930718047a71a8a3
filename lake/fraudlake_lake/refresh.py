"""The lakehouse refresh: Bronze objects into PostgreSQL, then `dbt build` to Silver and Gold.

These are the steps of Airflow's `lakehouse_refresh` DAG (dags/lakehouse_refresh.py only wires
them to Airflow's connections) and of `fraudlake lakehouse build`. A Scope says which Bronze and
which schemas a run covers: the platform's by default, private ones in tests (as DAG run conf).

Gold is published by dbt's own build-then-swap: a table model is built beside the old one and
renamed over it in one transaction, and `dbt build` skips every model downstream of a failing
test. The quality gates sit on staging and silver, so a bad batch stops before Gold, which keeps
its last good state (docs/decisions/0006-lakehouse-refresh-and-publishing-gold.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql

from fraudlake import ops
from fraudlake.platform.context import Context
from fraudlake.platform.postgres import Endpoint
from fraudlake.topics import BRONZE_SCHEMA
from fraudlake_lake import bronze, dbt, loader


class RefreshError(RuntimeError):
    """A step failed; the message names what (the failing dbt tests, the bad conf field)."""


@dataclass(frozen=True)
class Scope:
    topics: dict[str, str] = field(default_factory=lambda: {t: t for t in bronze.RECORDS})
    """Topic read from Bronze -> the platform topic whose table its rows go to."""
    bucket: str = bronze.BUCKET
    bronze_schema: str = BRONZE_SCHEMA
    schema_prefix: str = ""
    """Prefix of the staging/silver/gold schemas."""
    reload_lookback_minutes: int = 15
    """Silver's incremental runs also redo payments loaded this long before the last run's newest
    row, for loads that were still committing when it read (dbt var of the same name)."""

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any] | None) -> Scope:
        """From a DAG run's conf; unknown or mistyped fields stop with the field named."""
        conf = dict(conf or {})
        default = cls()
        known = asdict(default)
        for name, value in conf.items():
            if name not in known:
                raise RefreshError(f"conf field {name!r}: unknown (known: {', '.join(known)})")
            if not isinstance(value, type(known[name])):
                raise RefreshError(f"conf field {name!r}: expected {type(known[name]).__name__}")
        unknown_kinds = set(conf.get("topics", {}).values()) - set(bronze.RECORDS)
        if unknown_kinds:
            raise RefreshError(f"conf field 'topics': not platform topics: {sorted(unknown_kinds)}")
        return cls(**{**known, **conf})

    def dbt_vars(self) -> dict[str, str]:
        return {
            "bronze_schema": self.bronze_schema,
            "schema_prefix": self.schema_prefix,
            "reload_lookback_minutes": str(self.reload_lookback_minutes),
        }


@dataclass
class Step:
    """What a running step reports into its record (rows it loaded, if it loads)."""

    rows_loaded: int | None = None


@contextmanager
def recorded(db: Endpoint, run_id: str, step: str, scope: Scope) -> Iterator[Step]:
    """Record one step of a run in ops.lakehouse_steps: `running` when it starts, then `success`
    or `failed` with the error's first line; a retry of the step overwrites its record. The scope's
    schema prefix goes with it, so a run on private schemas shows only in its own Gold."""
    upsert = sql.SQL(
        "insert into {} (run_id, step, started_at, ended_at, state, detail, rows_loaded, schema_prefix) "
        "values (%s, %s, now(), null, 'running', '', null, %s) on conflict (run_id, step) do update "
        "set started_at = now(), ended_at = null, state = 'running', detail = '', rows_loaded = null"
    ).format(sql.Identifier(*ops.STEPS_TABLE.split(".")))
    finish = sql.SQL(
        "update {} set ended_at = now(), state = %s, detail = %s, rows_loaded = %s "
        "where run_id = %s and step = %s"
    ).format(sql.Identifier(*ops.STEPS_TABLE.split(".")))
    with db.connect() as conn:
        conn.autocommit = True
        conn.execute(upsert, (run_id, step, scope.schema_prefix))
        report = Step()
        try:
            yield report
        except BaseException as exc:
            detail = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            conn.execute(finish, ("failed", detail[:500], report.rows_loaded, run_id, step))
            raise
        conn.execute(finish, ("success", "", report.rows_loaded, run_id, step))


def load(db: Endpoint, client: Any, scope: Scope) -> loader.Loaded:
    """Step 1: every complete Bronze batch not yet in the load manifest, idempotently."""
    with db.connect() as conn:
        conn.autocommit = True
        return loader.load_new(conn, client, scope.topics, bucket=scope.bucket, schema=scope.bronze_schema)


def build(ctx: Context, db: Endpoint, scope: Scope, state: Path) -> str:
    """Step 2: `dbt build` (models and their tests in order); its log, or RefreshError naming the
    failing tests."""
    done = dbt.run(ctx, "build", variables=scope.dbt_vars(), endpoint=db, state=state)
    if done.returncode != 0:
        failed = dbt.failures(state) or ["(no node failed: see the log above)"]
        raise RefreshError(
            f"dbt build failed; Gold keeps its last good state. Failing: {', '.join(failed)}\n"
            + done.stdout[-4000:]
        )
    return done.stdout


def freshness(ctx: Context, db: Endpoint, scope: Scope, state: Path) -> str:
    """Step 3: `dbt source freshness`. Stale sources warn; past error_after they fail the step. A
    source with no row yet (a new install, no traffic) is reported, not failed: it is not stale."""
    done = dbt.run(ctx, "source", "freshness", variables=scope.dbt_vars(), endpoint=db, state=state)
    verdicts = dbt.freshness(state)
    if not verdicts:
        raise RefreshError("dbt source freshness did not run\n" + done.stdout[-4000:])
    summary = ", ".join(f"{source}: {verdict}" for source, verdict in sorted(verdicts.items()))
    stale = sorted(source for source, verdict in verdicts.items() if verdict in {"error", "runtime error"})
    if stale:
        raise RefreshError(f"stale past error_after: {', '.join(stale)} ({summary})")
    return summary


def docs(ctx: Context, db: Endpoint, scope: Scope, state: Path) -> Path:
    """`dbt docs generate --static`: one self-contained HTML page (models, columns, tests, lineage,
    the catalog read from the database) that opens from disk, no server needed."""
    done = dbt.run(ctx, "docs", "generate", "--static", variables=scope.dbt_vars(), endpoint=db, state=state)
    page = state / "target" / "static_index.html"
    if done.returncode != 0 or not page.exists():
        raise RefreshError("dbt docs generate failed\n" + done.stdout[-4000:])
    return page
