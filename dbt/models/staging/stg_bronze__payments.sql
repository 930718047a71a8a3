-- One row per payment_id: the first landed copy of each payment the contract accepts.
select
    payment_id, customer_id, merchant_id, amount, currency, status, payment_method,
    event_time, loaded_at
from ({{ first_copy(source('bronze', 'payments'), 'payment_id', 'kafka_timestamp, kafka_partition, kafka_offset') }}) as p
