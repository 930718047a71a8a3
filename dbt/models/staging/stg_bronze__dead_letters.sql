-- One row per dead-lettered input (source topic, partition, offset): what the scoring job could
-- not score and why. `reason_kind` groups the reasons: `late`, or the contract field at fault.
-- The record's Kafka timestamp is the input's (the job keeps it), so the time it was dead-lettered
-- is taken as when it landed in Bronze.
select
    source_topic,
    source_partition,
    source_offset,
    reason,
    case
        when reason like 'late%' then 'late'
        else split_part(reason, ':', 1)
    end as reason_kind,
    ingested_at as dead_lettered_at,
    loaded_at
from ({{ first_copy(source('bronze', 'payments_dlq'), 'source_topic, source_partition, source_offset', 'kafka_partition, kafka_offset') }}) as l
