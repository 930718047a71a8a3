-- One row per Bronze table, as of this refresh: rows landed, the newest record's Kafka time, how
-- long ago that was (freshness) and how long records took from Kafka to a Bronze object (landing
-- lag, p50/p95 over the last hour that landed anything).
with landed as (
    select bronze_table, kafka_timestamp, ingested_at, loaded_at from {{ ref('stg_bronze__landings') }}
),
totals as (
    select
        bronze_table,
        count(*) as rows_landed,
        max(kafka_timestamp) as newest_record_at,
        max(ingested_at) as newest_landed_at,
        max(loaded_at) as last_loaded_at
    from landed
    group by bronze_table
),
lags as (
    select
        l.bronze_table,
        percentile_cont(0.5) within group (order by extract(epoch from l.ingested_at - l.kafka_timestamp)) as p50,
        percentile_cont(0.95) within group (order by extract(epoch from l.ingested_at - l.kafka_timestamp)) as p95
    from landed as l
    join totals as t on t.bronze_table = l.bronze_table
    where l.ingested_at >= t.newest_landed_at - interval '1 hour'
    group by l.bronze_table
)
select
    t.bronze_table,
    t.rows_landed::bigint as rows_landed,
    t.newest_record_at,
    t.last_loaded_at,
    round(extract(epoch from {{ as_of() }} - t.newest_record_at))::bigint as freshness_s,
    round(g.p50)::bigint as landing_lag_p50_s,
    round(g.p95)::bigint as landing_lag_p95_s
from totals as t
join lags as g on g.bronze_table = t.bronze_table
