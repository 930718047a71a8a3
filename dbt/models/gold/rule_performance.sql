-- Per rules version and rule: how often it fired, and how often that was fraud, among payments
-- whose chargeback window has closed. lift = the rule's fraud rate / the fraud rate of all
-- payments decided by that rules version (above 1: the rule singles out fraud).
with decided as (
    select payment_id, rules_version, is_alert, is_charged_back as is_fraud
    from {{ ref('int_payment_facts') }}
    where rules_version is not null
      and event_time < {{ as_of() }} - interval '{{ var("chargeback_window_days") }} days'
),
base as (
    select rules_version, avg(is_fraud::int)::numeric as fraud_rate
    from decided
    group by rules_version
),
hits as (
    select d.rules_version, h.rule_id, d.is_alert, d.is_fraud
    from decided as d
    join {{ ref('int_rule_hits') }} as h on h.payment_id = d.payment_id and h.rules_version = d.rules_version
)
select
    h.rules_version,
    h.rule_id,
    count(*)::bigint as hits,
    count(*) filter (where h.is_alert)::bigint as hits_alerted,
    count(*) filter (where h.is_fraud)::bigint as hits_fraud,
    round(avg(h.is_fraud::int), 4)::numeric(6, 4) as precision,
    round(avg(h.is_fraud::int) / nullif(b.fraud_rate, 0), 2)::numeric(10, 2) as lift
from hits as h
join base as b on b.rules_version = h.rules_version
group by h.rules_version, h.rule_id, b.fraud_rate
