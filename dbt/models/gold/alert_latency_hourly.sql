-- Event -> alert latency per hour of the payment and rules version: from the payment's event time to its alert's
-- Kafka timestamp (when fraud-alerts received it), in milliseconds.
select
    date_trunc('hour', event_time, 'UTC') as event_hour,
    rules_version,
    count(*)::bigint as alerts,
    percentile_cont(0.5) within group (order by latency_ms)::bigint as p50_ms,
    percentile_cont(0.95) within group (order by latency_ms)::bigint as p95_ms,
    percentile_cont(0.99) within group (order by latency_ms)::bigint as p99_ms,
    max(latency_ms)::bigint as max_ms
from (
    select event_time, rules_version, (extract(epoch from alerted_at - event_time) * 1000)::bigint as latency_ms
    from {{ ref('int_payment_facts') }}
    where alerted_at is not null
) as alerted
group by 1, 2
