-- Per rules version and rule, on every decided payment so far (the provisional view beside
-- rule_performance, which waits for the chargeback window): hits and hit rate, chargebacks so far
-- and the share of hits whose window is still open (their label may still come), and, for
-- simulated traffic, precision and lift by the simulator's truth (named as such).
with decided as (
    select
        payment_id,
        rules_version,
        is_alert,
        is_charged_back,
        is_fraud as is_fraud_truth,
        event_time >= {{ as_of() }} - interval '{{ var("chargeback_window_days") }} days' as label_pending
    from {{ ref('int_payment_facts') }}
    where rules_version is not null
),
base as (
    select
        rules_version,
        count(*) as decided,
        avg(is_fraud_truth::int)::numeric as fraud_rate_truth
    from decided
    group by rules_version
),
by_rule as (
    select
        d.rules_version,
        h.rule_id,
        count(*) as hits,
        count(*) filter (where d.is_alert) as hits_alerted,
        count(*) filter (where d.is_charged_back) as hits_charged_back,
        count(*) filter (where d.label_pending) as hits_label_pending,
        count(*) filter (where d.is_fraud_truth) as hits_fraud_truth,
        count(d.is_fraud_truth) as hits_with_truth
    from decided as d
    join {{ ref('int_rule_hits') }} as h on h.payment_id = d.payment_id and h.rules_version = d.rules_version
    group by d.rules_version, h.rule_id
)
select
    r.rules_version,
    r.rule_id,
    r.hits::bigint as hits,
    round(r.hits::numeric / b.decided, 4)::numeric(6, 4) as hit_rate,
    r.hits_alerted::bigint as hits_alerted,
    r.hits_charged_back::bigint as hits_charged_back,
    round(r.hits_label_pending::numeric / r.hits, 4)::numeric(6, 4) as share_label_pending,
    round(r.hits_fraud_truth::numeric / nullif(r.hits_with_truth, 0), 4)::numeric(6, 4) as precision_truth,
    round(
        (r.hits_fraud_truth::numeric / nullif(r.hits_with_truth, 0)) / nullif(b.fraud_rate_truth, 0), 2
    )::numeric(10, 2) as lift_truth
from by_rule as r
join base as b on b.rules_version = r.rules_version
