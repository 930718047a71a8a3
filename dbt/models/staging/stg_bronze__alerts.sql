-- One row per alert_id, i.e. per (payment_id, rules_version): alerts are delivered at least once,
-- and duplicates share the id.
select alert_id, payment_id, rules_version, severity, score, kafka_timestamp as alerted_at, loaded_at
from ({{ first_copy(source('bronze', 'fraud_alerts'), 'alert_id', 'kafka_timestamp, kafka_partition, kafka_offset') }}) as a
