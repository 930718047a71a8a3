-- One row per rules version: what each decision's severity and rule ids are checked against.
select rules_version, score_cap, alert_threshold, medium_from, high_from, rule_ids
from {{ source('ops', 'rules_versions') }}
