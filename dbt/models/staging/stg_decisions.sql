-- One row per payment_id: its latest decision (a re-score under new rules replaces the old one).
select payment_id, score, severity, is_alert, reasons, rules_version, scored_at, loaded_at
from ({{ first_copy(source('bronze', 'payment_scores'), 'payment_id', 'scored_at desc, kafka_partition, kafka_offset') }}) as d
