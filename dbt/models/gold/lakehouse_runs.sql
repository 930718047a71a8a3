-- One row per lakehouse_refresh run, from the steps' own records: when it started and ended, how
-- long it took, its state (failed if any step failed, running while a step runs: the run that
-- builds this table sees itself running) and which steps failed.
select
    run_id,
    min(started_at) as started_at,
    max(ended_at) as ended_at,
    round(extract(epoch from max(ended_at) - min(started_at)))::bigint as duration_s,
    case
        when bool_or(state = 'failed') then 'failed'
        when bool_or(state = 'running') then 'running'
        else 'success'
    end as state,
    coalesce(string_agg(step, ', ' order by step) filter (where state = 'failed'), '') as failed_steps,
    coalesce(sum(rows_loaded), 0)::bigint as rows_loaded
from {{ source('ops', 'lakehouse_steps') }}
group by run_id
