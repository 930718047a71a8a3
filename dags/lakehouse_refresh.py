"""
### lakehouse_refresh: Bronze (MinIO) -> PostgreSQL `bronze` -> dbt Silver and Gold

Every 3 minutes by default (`FRAUDLAKE_LAKEHOUSE_INTERVAL_MINUTES`), one run at a time, no catch-up:

1. **load_bronze**: the Parquet objects of every complete Bronze batch not yet in the load
   manifest (`bronze.load_manifest`, keyed by object and etag) are copied into PostgreSQL, one
   transaction per batch: a rerun loads nothing, a half-loaded batch is rolled back.
2. **build_silver_gold**: `dbt build`, models and tests in order (Silver `int_payment_facts` is
   incremental: only payments with a part loaded since the last run). A failing test fails the task,
   names the test, and skips everything downstream: Gold keeps its last good state. Success
   updates the Asset `fraudlake://gold`.
3. **check_freshness**: `dbt source freshness` on Bronze (warns after 30 min, fails after 24 h).

Each step records itself (start, end, state, error) in `ops.lakehouse_steps`; Gold's
`lakehouse_runs` shows the runs on the Operations dashboard.

Connections come from the environment (`AIRFLOW_CONN_FRAUDLAKE_POSTGRES`, `..._TRANSFORM` for
dbt, `..._MINIO`, set by `fraudlake up`). Run conf may narrow the scope (`topics`, `bucket`, `bronze_schema`,
`schema_prefix`, `reload_lookback_minutes`); the tests use it to refresh private schemas. The logic
lives in `fraudlake_lake.refresh`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Asset, BaseHook, dag, get_current_context, task

from fraudlake.config import Settings

GOLD = Asset("fraudlake://gold")


def _run_id() -> str:
    return str(get_current_context()["run_id"])


def _endpoint(conn_id: str) -> Any:
    from fraudlake.platform.postgres import Endpoint

    pg = BaseHook.get_connection(conn_id)
    return Endpoint(pg.host, int(pg.port), pg.login, pg.password, pg.schema)


def _scope_and_context() -> tuple[Any, Any, Any]:
    """The platform, the app role's endpoint (the load and the run's record) and the run's scope."""
    from fraudlake.platform.context import Context
    from fraudlake_lake.refresh import Scope

    scope = Scope.from_conf(get_current_context()["dag_run"].conf)
    return Context(Settings.from_env()), _endpoint("fraudlake_postgres"), scope


@dag(
    dag_id="lakehouse_refresh",
    schedule=timedelta(minutes=Settings.from_env().lakehouse_interval_minutes),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(minutes=30),
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["fraudlake", "lakehouse"],
    doc_md=__doc__,
)
def lakehouse_refresh() -> None:
    @task
    def load_bronze() -> dict[str, int]:
        from fraudlake.platform.minio import client_for
        from fraudlake_lake import refresh

        _, db, scope = _scope_and_context()
        minio = BaseHook.get_connection("fraudlake_minio")
        client = client_for(minio.host, minio.login, minio.password)
        with refresh.recorded(db, _run_id(), "load_bronze", scope) as step:
            loaded = refresh.load(db, client, scope)
            step.rows_loaded = loaded.rows
        return {"objects": loaded.objects, "rows": loaded.rows, "skipped": loaded.skipped}

    @task(outlets=[GOLD], retries=0)
    def build_silver_gold() -> None:
        from fraudlake_lake import refresh

        ctx, db, scope = _scope_and_context()
        with refresh.recorded(db, _run_id(), "build_silver_gold", scope):
            dbt = _endpoint("fraudlake_transform")
            print(refresh.build(ctx, dbt, scope, ctx.settings.home / "airflow" / "dbt" / "build"))

    @task(retries=0)
    def check_freshness() -> None:
        from fraudlake_lake import refresh

        ctx, db, scope = _scope_and_context()
        with refresh.recorded(db, _run_id(), "check_freshness", scope):
            dbt = _endpoint("fraudlake_transform")
            print(refresh.freshness(ctx, dbt, scope, ctx.settings.home / "airflow" / "dbt" / "freshness"))

    loaded = load_bronze()
    loaded >> build_silver_gold()
    loaded >> check_freshness()


lakehouse_refresh()
