-- One row per (run, rules version, period): that rules version's figures in the run.
select
    run_id, rules_version, period, payments, labelled, pending, frauds, legit, alerts, caught,
    false_alerts, recall, precision, legit_alerted, days, alerts_per_day, fraud_value_eur,
    fraud_value_caught_eur, good_value_alerted_eur, top_k, top_k_precision
from {{ source('ops', 'backtest_figures') }}
