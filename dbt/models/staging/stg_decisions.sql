-- One row per payment_id: its latest decision (a re-score under new rules replaces the old one).
select payment_id, score, severity, is_alert, rules_version, scored_at
from (
    select *, row_number() over (
        partition by payment_id order by scored_at desc, kafka_partition, kafka_offset
    ) as copy_number
    from {{ source('bronze', 'payment_scores') }}
    where contract_error is null
) as landed
where copy_number = 1
