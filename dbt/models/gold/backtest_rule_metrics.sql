-- Each rule's figures per backtest or tuning run, rules version and period.
select
    m.run_id, r.kind, r.recorded_at, m.rules_version, m.period, m.rule_id, m.hits, m.in_alerts,
    m.fraud_hit, m.legit_hit, m.precision
from {{ ref('stg_ops__backtest_rule_metrics') }} as m
join {{ ref('stg_ops__backtest_runs') }} as r using (run_id)
