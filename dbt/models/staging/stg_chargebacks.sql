-- One row per disputed payment: its first chargeback.
select payment_id, reason, reported_at
from (
    select *, row_number() over (
        partition by payment_id order by reported_at, kafka_partition, kafka_offset
    ) as copy_number
    from {{ source('bronze', 'chargebacks') }}
    where contract_error is null
) as landed
where copy_number = 1
