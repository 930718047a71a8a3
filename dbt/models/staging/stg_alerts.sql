-- One row per alert_id (alerts are delivered at least once: duplicates share the id).
select alert_id, payment_id, severity, score, kafka_timestamp as alerted_at
from (
    select *, row_number() over (
        partition by alert_id order by kafka_timestamp, kafka_partition, kafka_offset
    ) as copy_number
    from {{ source('bronze', 'fraud_alerts') }}
    where contract_error is null
) as landed
where copy_number = 1
