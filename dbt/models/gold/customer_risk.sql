-- One row per customer with payments and rules version (`undecided` for payments no version
-- decided yet): activity, alerts, chargebacks, and a risk tier for analysts' queues: HIGH with a
-- chargeback or a HIGH alert, MEDIUM with any alert, else LOW.
select
    f.customer_id,
    coalesce(f.rules_version, 'undecided') as rules_version,
    c.country,
    c.registered_at,
    count(*)::bigint as payments,
    sum(f.amount)::numeric(18, 2) as amount,
    count(*) filter (where f.is_alert)::bigint as alerts,
    coalesce(max(f.score), 0)::bigint as max_score,
    count(*) filter (where f.is_charged_back)::bigint as chargebacks,
    max(f.event_time) as last_payment_at,
    case
        when bool_or(f.is_charged_back) or bool_or(f.is_alert and f.severity = 'HIGH') then 'HIGH'
        when bool_or(f.is_alert) then 'MEDIUM'
        else 'LOW'
    end as risk_tier
from {{ ref('int_payment_facts') }} as f
left join {{ ref('stg_ops__customer_profiles') }} as c on c.customer_id = f.customer_id
group by f.customer_id, 2, c.country, c.registered_at
