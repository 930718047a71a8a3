-- Every backtest and tuning run with each rules version's figures per period: the live rules'
-- record over time, and each candidate beside them on the same payments.
select
    r.run_id, r.kind, r.recorded_at, r.requested_by, r.labels, r.period_from, r.period_to, r.budget,
    r.objective, r.live_version, r.tested_version, r.candidate_version, r.holdout_from, r.folder,
    f.rules_version, f.period, f.payments, f.labelled, f.pending, f.frauds, f.legit, f.alerts,
    f.caught, f.false_alerts, f.recall, f.precision, f.legit_alerted, f.days, f.alerts_per_day,
    f.fraud_value_eur, f.fraud_value_caught_eur, f.good_value_alerted_eur, f.top_k, f.top_k_precision
from {{ ref('stg_ops__backtest_runs') }} as r
join {{ ref('stg_ops__backtest_figures') }} as f using (run_id)
