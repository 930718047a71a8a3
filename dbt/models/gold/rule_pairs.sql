-- Which rules fire together in alerts: one row per rules version and unordered pair of rules
-- (rule_a < rule_b) that both fired in at least one alerted decision.
with alerted_hits as (
    select h.payment_id, h.rules_version, h.rule_id
    from {{ ref('int_rule_hits') }} as h
    join {{ ref('int_payment_facts') }} as f on f.payment_id = h.payment_id and f.rules_version = h.rules_version
    where f.is_alert
)
select
    a.rules_version,
    a.rule_id as rule_a,
    b.rule_id as rule_b,
    count(*)::bigint as alerts
from alerted_hits as a
join alerted_hits as b on b.payment_id = a.payment_id and b.rule_id > a.rule_id
group by 1, 2, 3
