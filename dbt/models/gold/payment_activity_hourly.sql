-- Payments, amount, alerts and amount at risk per event hour and the dimensions the Fraud overview
-- dashboard filters by (rules version, severity, customer country, currency, payment method):
-- every overview chart sums these rows, so its native filters apply to all of them alike.
-- Payments not decided yet (no decision landed) count under rules version and severity `undecided`;
-- the country is the customer's profile as it is now (joined here, where every run rebuilds the
-- table, not in the incremental Silver, which a profile change would not reach).
select
    date_trunc('hour', event_time, 'UTC') as event_hour,
    coalesce(rules_version, 'undecided') as rules_version,
    coalesce(severity, 'undecided') as severity,
    coalesce(c.country, 'unknown') as country,
    currency,
    payment_method,
    count(*)::bigint as payments,
    sum(amount)::numeric(18, 2) as amount,
    count(*) filter (where is_alert)::bigint as alerts,
    coalesce(sum(amount) filter (where is_alert), 0)::numeric(18, 2) as amount_at_risk
from {{ ref('int_payment_facts') }} as f
left join {{ ref('stg_ops__customer_profiles') }} as c on c.customer_id = f.customer_id
group by 1, 2, 3, 4, 5, 6
