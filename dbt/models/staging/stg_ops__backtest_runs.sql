-- One row per backtest or tuning run, as DAG rules_backtest recorded it.
select
    run_id, kind, recorded_at, requested_by, labels, period_from, period_to, budget, objective,
    live_version, tested_version, candidate_version, holdout_from, folder
from {{ source('ops', 'backtest_runs') }}
