-- One row per (run, rules version, period, rule): the rule's figures in the run.
select run_id, rules_version, period, rule_id, hits, in_alerts, fraud_hit, legit_hit, precision
from {{ source('ops', 'backtest_rule_metrics') }}
