"""
### rules_backtest: how the live rules do on labelled history, and a better version to review

Daily, and by hand (the form takes the budget, the objective and the labels). The logic lives in
`fraudlake.backtest`; it never deploys anything.

1. **backtest_live**: the scoring job's live rules replayed on the platform's history (Bronze's
   payments, chargebacks and simulator truth, the customer profiles): recall, precision, share of
   legitimate payments alerted, alerts per day against the budget, per rule, per scenario or
   persona and per day. Payments whose chargeback window is still open are counted apart.
2. **tune**: a search on the training period (all but the last `holdout_share` of the days) under
   the budget, reported on the later holdout period. The candidate rules file, its report and its
   figures are kept in `<FRAUDLAKE_HOME>/backtests/<run>/tuning/`.

Both record their figures in `ops.backtest_*`; Gold's `backtest_runs` and `backtest_rule_metrics`
publish them at the next lakehouse refresh. Promotion is a person's act: `fraudlake rules approve
FILE --by NAME`, then `fraudlake rules deploy FILE --wait` (DAG `rules_deploy`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import BaseHook, Param, dag, get_current_context, task

from fraudlake.topics import BRONZE_SCHEMA, CHARGEBACK_WINDOW_DAYS


def _run(kind: str) -> dict[str, Any]:
    from fraudlake.backtest.service import run_and_record
    from fraudlake.config import Settings
    from fraudlake.platform.postgres import Endpoint
    from fraudlake_flink.control import Jobs
    from fraudlake_flink.spec import JOB_NAME

    context = get_current_context()
    params = dict(context["params"])
    params["requested_by"] = (
        params.get("requested_by") or getattr(context["dag_run"], "triggering_user_name", None) or "airflow"
    )
    pg = BaseHook.get_connection("fraudlake_postgres")
    db = Endpoint(pg.host, int(pg.port), pg.login, pg.password, pg.schema)
    runs = Jobs.from_env().registry.runs(JOB_NAME)
    live = runs[0].rules_path if runs else None
    folder = Settings.from_env().home / "backtests" / str(context["run_id"]).replace(":", "-") / kind
    return run_and_record(db, f"{context['run_id']}/{kind}", kind, params, live, folder)


@dag(
    dag_id="rules_backtest",
    schedule=timedelta(days=1),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(hours=2),
    tags=["fraudlake", "rules"],
    doc_md=__doc__,
    params={
        "budget": Param(
            "1%", type="string", description="Alerts per day (200/day) or share of legitimate payments (1%)"
        ),
        "objective": Param(
            "fraud", enum=["fraud", "value"], description="Frauds caught, or value caught minus alert cost"
        ),
        "alert_cost_eur": Param(
            5.0, type="number", minimum=0, description="EUR per legitimate payment alerted (value)"
        ),
        "holdout_share": Param(
            0.3,
            type="number",
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            description="Share of the days held out",
        ),
        "labels": Param(
            "auto",
            enum=["auto", "truth", "chargebacks"],
            description="auto: simulator truth if any, else chargebacks",
        ),
        "chargeback_window_days": Param(CHARGEBACK_WINDOW_DAYS, type="integer", minimum=1),
        "bronze_schema": Param(
            BRONZE_SCHEMA, type="string", description="The Bronze schema the history is read from"
        ),
        "requested_by": Param(
            None, type=["null", "string"], description="Who asks (empty: the triggering user)"
        ),
    },
)
def rules_backtest() -> None:
    @task(retries=0)
    def backtest_live() -> dict[str, Any]:
        return _run("backtest")

    @task(retries=0)
    def tune() -> dict[str, Any]:
        return _run("tuning")

    backtest_live() >> tune()


rules_backtest()
