-- The rows every metric comes from, one per (payment_id, rules_version): the payment, that rules
-- version's decision and alert, its label (a chargeback) and, for simulated traffic, its truth
-- (fraud or not, and the scenario). A payment no version decided yet has one row with a null
-- rules_version. The decisions' reasons are in int_rule_hits.
--
-- Incremental: a run rebuilds every row of the payments with a part (payment, decision, alert,
-- chargeback, truth) loaded since the last run, minus a lookback that covers loads still committing
-- when the last run read them. Changed ids come from stg_bronze__changes (the Bronze tables'
-- loaded_at indexes); the staging views are then read for those ids only (the filter is on their
-- dedupe key).
-- depends_on: {{ ref('stg_bronze__changes') }}
-- Depends on the rules versions so that the tests checking its rows against their rules version
-- (severity_agrees_with_score, rule_of_its_version) block Gold like its own tests do.
-- depends_on: {{ ref('stg_ops__rules_versions') }}
--
-- No nested loops: the planner reads `copy_number = 1` of each staging view as 0.5% of its rows,
-- estimates one row per join and nests loops over the window aggregates. With many changed ids (a
-- first build, a catch-up after an outage) that took over 6 minutes for 316,819 payments, against
-- 3.3 s with hash and merge joins (the fault suite found it).
{{ config(
    pre_hook='set local enable_nestloop = off',
    materialized='incremental',
    unique_key='payment_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

{% if is_incremental() %}
with changed as (
    select distinct payment_id
    from {{ ref('stg_bronze__changes') }}
    where loaded_at > (
        select coalesce(max(t.loaded_at), '-infinity'::timestamptz)
            - interval '{{ var("reload_lookback_minutes") }} minutes'
        from {{ this }} as t
    )
)
{% endif %}
select
    p.payment_id,
    d.rules_version,
    p.customer_id,
    p.merchant_id,
    p.amount,
    p.currency,
    p.status,
    p.payment_method,
    p.event_time,
    d.score,
    d.severity,
    coalesce(d.is_alert, false) as is_alert,
    d.scored_at,
    a.alert_id,
    a.alerted_at,
    c.payment_id is not null as is_charged_back,
    c.reported_at as charged_back_at,
    t.is_fraud,
    t.scenario,
    greatest(p.loaded_at, d.loaded_at, a.loaded_at, c.loaded_at, t.loaded_at) as loaded_at
from {{ ref('stg_bronze__payments') }} as p
left join {{ ref('stg_bronze__decisions') }} as d on d.payment_id = p.payment_id
left join {{ ref('stg_bronze__alerts') }} as a
    on a.payment_id = p.payment_id and a.rules_version = d.rules_version
left join {{ ref('stg_bronze__chargebacks') }} as c on c.payment_id = p.payment_id
left join {{ ref('stg_bronze__ground_truth') }} as t on t.payment_id = p.payment_id
{% if is_incremental() %}
where p.payment_id in (select payment_id from changed)
{% endif %}
