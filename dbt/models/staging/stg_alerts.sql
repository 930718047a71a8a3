-- One row per alert_id (alerts are delivered at least once: duplicates share the id).
select alert_id, payment_id, severity, score, kafka_timestamp as alerted_at, loaded_at
from ({{ first_copy(source('bronze', 'fraud_alerts'), 'alert_id', 'kafka_timestamp, kafka_partition, kafka_offset') }}) as a
