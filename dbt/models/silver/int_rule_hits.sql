-- One row per rule that fired in a decision, per (payment_id, rules_version): `VELOCITY: 3
-- payments in 2m 0s` becomes rule_id VELOCITY with that text. Rule performance in Gold counts these.
select
    d.payment_id,
    d.rules_version,
    split_part(r.reason, ':', 1) as rule_id,
    r.reason
from {{ ref('stg_bronze__decisions') }} as d
cross join lateral unnest(d.reasons) as r(reason)

-- Depends on the rules versions so that the tests checking its rows against their rules version
-- (severity_agrees_with_score, rule_of_its_version) block Gold like its own tests do.
-- depends_on: {{ ref('stg_ops__rules_versions') }}
