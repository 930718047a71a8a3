-- Dead letters per hour they were written and kind of reason (`late`, or the contract field at
-- fault): what the scoring job could not score.
select
    date_trunc('hour', dead_lettered_at, 'UTC') as dead_letter_hour,
    reason_kind,
    count(*)::bigint as dead_letters
from {{ ref('stg_bronze__dead_letters') }}
group by 1, 2
