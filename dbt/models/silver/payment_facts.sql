-- The single row per payment that every metric comes from: the payment, its decision, its alert
-- and its label (a chargeback), where they exist.
select
    p.payment_id,
    p.customer_id,
    p.merchant_id,
    p.amount,
    p.currency,
    p.status,
    p.event_time,
    d.score,
    d.severity,
    coalesce(d.is_alert, false) as is_alert,
    d.rules_version,
    d.scored_at,
    a.alert_id,
    a.alerted_at,
    c.payment_id is not null as is_charged_back,
    c.reported_at as charged_back_at
from {{ ref('stg_payments') }} as p
left join {{ ref('stg_decisions') }} as d on d.payment_id = p.payment_id
left join (
    select distinct on (payment_id) payment_id, alert_id, alerted_at
    from {{ ref('stg_alerts') }}
    order by payment_id, alerted_at
) as a on a.payment_id = p.payment_id
left join {{ ref('stg_chargebacks') }} as c on c.payment_id = p.payment_id
