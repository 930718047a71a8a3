-- One row per (payment_id, rules_version): each rules version's latest decision on the payment (a
-- re-score under the same version replaces its earlier one; another version's decision is a row
-- of its own, so a shadow version scoring beside the live one needs no remodel).
select payment_id, rules_version, score, severity, is_alert, reasons, scored_at, loaded_at
from ({{ first_copy(source('bronze', 'payment_scores'), 'payment_id, rules_version', 'scored_at desc, kafka_partition, kafka_offset') }}) as d
