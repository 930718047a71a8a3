-- The single row per payment that every metric comes from: the payment, its decision, its alert,
-- its label (a chargeback) and, for simulated traffic, its truth (fraud or not, and the scenario),
-- where they exist. The decision's reasons are in rule_hits.
--
-- Incremental: a run rebuilds only the payments with a part (payment, decision, alert,
-- chargeback, truth) loaded since the last run, minus a lookback that covers loads still committing
-- when the last run read them. Changed ids come from the Bronze tables' loaded_at index; the
-- staging views are then read for those ids only (the filter is on their dedupe key).
-- A table built before payment_method existed is rebuilt whole once (and gains the columns).
{{ config(
    materialized='incremental',
    unique_key='payment_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

{% set incremental = is_incremental()
    and 'payment_method' in adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
{% if incremental %}
{% set since %}
    (select coalesce(max(t.loaded_at), '-infinity'::timestamptz)
        - interval '{{ var("reload_lookback_minutes") }} minutes'
     from {{ this }} as t)
{% endset %}
with changed as (
    {% for table in ['payments', 'payment_scores', 'fraud_alerts', 'chargebacks', 'ground_truth'] %}
    select payment_id from {{ source('bronze', table) }} where loaded_at > {{ since }}
    {% if not loop.last %}union{% endif %}
    {% endfor %}
)
{% endif %}
select
    p.payment_id,
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
    d.rules_version,
    d.scored_at,
    a.alert_id,
    a.alerted_at,
    c.payment_id is not null as is_charged_back,
    c.reported_at as charged_back_at,
    t.is_fraud,
    t.scenario,
    greatest(p.loaded_at, d.loaded_at, a.loaded_at, c.loaded_at, t.loaded_at) as loaded_at
from {{ ref('stg_payments') }} as p
left join {{ ref('stg_decisions') }} as d on d.payment_id = p.payment_id
left join (
    select distinct on (payment_id) payment_id, alert_id, alerted_at, loaded_at
    from {{ ref('stg_alerts') }}
    order by payment_id, alerted_at
) as a on a.payment_id = p.payment_id
left join {{ ref('stg_chargebacks') }} as c on c.payment_id = p.payment_id
left join {{ ref('stg_ground_truth') }} as t on t.payment_id = p.payment_id
{% if incremental %}
where p.payment_id in (select payment_id from changed)
{% endif %}
