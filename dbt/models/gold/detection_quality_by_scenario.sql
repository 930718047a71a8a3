-- How each rules version's alerts fare per event day (UTC) and scenario, on simulated traffic whose truth is known:
-- per fraud scenario the share of its payments alerted (recall), per legitimate persona the share
-- alerted wrongly (false-positive rate). The truth is known at once, so unlike the chargeback-based
-- detection_quality_daily no window has to close first. Payments without truth are left out.
select
    date_trunc('day', event_time, 'UTC') as event_day,
    coalesce(rules_version, 'undecided') as rules_version,
    scenario,
    bool_or(is_fraud) as is_fraud_scenario,
    count(*)::bigint as payments,
    count(*) filter (where is_alert)::bigint as alerts,
    {{ share('is_alert', 'is_fraud') }} as recall,
    {{ share('is_alert', 'not is_fraud') }} as false_positive_rate,
    sum(amount) filter (where is_fraud and not is_alert)::numeric(14, 2) as fraud_amount_missed
from {{ ref('int_payment_facts') }}
where is_fraud is not null
group by 1, 2, 3
