-- One row per lakehouse_refresh run over this build's schemas (test runs on private schemas keep
-- to their own), from the steps' own records: when it started and ended (null while a step still
-- runs: the run that builds this table sees itself running), how long it took, its state (failed
-- if any step failed) and which steps failed.
select
    run_id,
    min(started_at) as started_at,
    case when bool_and(ended_at is not null) then max(ended_at) end as ended_at,
    case
        when bool_and(ended_at is not null)
            then round(extract(epoch from max(ended_at) - min(started_at)))::bigint
    end as duration_s,
    case
        when bool_or(state = 'failed') then 'failed'
        when bool_or(state = 'running') then 'running'
        else 'success'
    end as state,
    coalesce(string_agg(step, ', ' order by step) filter (where state = 'failed'), '') as failed_steps,
    coalesce(sum(rows_loaded), 0)::bigint as rows_loaded
from {{ ref('stg_ops__lakehouse_steps') }}
where schema_prefix = '{{ var("schema_prefix") }}'
group by run_id
