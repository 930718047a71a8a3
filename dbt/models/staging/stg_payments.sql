-- One row per payment_id: the first landed copy of each readable payment.
select payment_id, customer_id, merchant_id, amount, currency, status, event_time
from (
    select *, row_number() over (
        partition by payment_id order by kafka_timestamp, kafka_partition, kafka_offset
    ) as copy_number
    from {{ source('bronze', 'payments') }}
    where contract_error is null
) as landed
where copy_number = 1
