-- One row per disputed payment: its first chargeback.
select payment_id, reason, reported_at, loaded_at
from ({{ first_copy(source('bronze', 'chargebacks'), 'payment_id', 'reported_at, kafka_partition, kafka_offset') }}) as c
