-- One row per (lakehouse_refresh run, step), as each step recorded itself (ops.lakehouse_steps).
select run_id, step, started_at, ended_at, state, detail, rows_loaded, schema_prefix
from {{ source('ops', 'lakehouse_steps') }}
