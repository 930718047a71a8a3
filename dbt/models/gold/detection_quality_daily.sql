-- How well each rules version's alerts found fraud by the chargeback label, per event day (UTC). A day whose
-- chargeback window has not closed yet is shown, but marked `labels_mature = false`: some of its
-- frauds have no chargeback yet and count as legitimate, so its recall is too high and its
-- precision too low. Charts keep the two apart. recall = alerted frauds / frauds, precision =
-- alerted frauds / alerts, false-positive rate = alerted legitimate payments / legitimate payments.
with labelled as (
    select
        date_trunc('day', event_time, 'UTC') as event_day,
        coalesce(rules_version, 'undecided') as rules_version,
        is_alert,
        is_charged_back as is_fraud
    from {{ ref('int_payment_facts') }}
)
select
    event_day,
    rules_version,
    -- the day's last payment's window closes a day after its first one's
    event_day + interval '1 day' + interval '{{ var("chargeback_window_days") }} days' <= {{ as_of() }} as labels_mature,
    ((event_day + interval '1 day' + interval '{{ var("chargeback_window_days") }} days') at time zone 'UTC')::date
        as labels_complete_on,
    count(*)::bigint as payments,
    count(*) filter (where is_fraud)::bigint as frauds,
    count(*) filter (where is_alert)::bigint as alerts,
    count(*) filter (where is_alert and is_fraud)::bigint as true_positives,
    count(*) filter (where is_alert and not is_fraud)::bigint as false_positives,
    {{ share('is_alert', 'is_fraud') }} as recall,
    {{ share('is_fraud', 'is_alert') }} as precision,
    {{ share('is_alert', 'not is_fraud') }} as false_positive_rate
from labelled
group by event_day, rules_version
