-- How well the alerts found fraud, per event day (UTC), counting only days whose chargeback window
-- has closed: before that, a fraud without its chargeback yet would count as legitimate. The label
-- is the chargeback (any reason): recall = alerted frauds / frauds, precision = alerted frauds /
-- alerts, false-positive rate = alerted legitimate payments / legitimate payments.
with labelled as (
    select
        date_trunc('day', event_time, 'UTC') as event_day,
        is_alert,
        is_charged_back as is_fraud
    from {{ ref('payment_facts') }}
    where event_time < now() - interval '{{ var("chargeback_window_days") }} days'
)
select
    event_day,
    count(*)::bigint as payments,
    count(*) filter (where is_fraud)::bigint as frauds,
    count(*) filter (where is_alert)::bigint as alerts,
    count(*) filter (where is_alert and is_fraud)::bigint as true_positives,
    count(*) filter (where is_alert and not is_fraud)::bigint as false_positives,
    {{ share('is_alert', 'is_fraud') }} as recall,
    {{ share('is_fraud', 'is_alert') }} as precision,
    {{ share('is_alert', 'not is_fraud') }} as false_positive_rate
from labelled
group by event_day
