-- Every alert has its payment in Bronze. A warning, not an error: a payment replayed with an old
-- timestamp can be deleted by the payments topic's 7-day retention before the sink lands it, while
-- its alert (30-day retention) lands; Gold should still be built, and the gap shown.
{{ config(severity='warn') }}
select a.alert_id, a.payment_id
from {{ ref('stg_bronze__alerts') }} as a
left join {{ ref('stg_bronze__payments') }} as p on p.payment_id = a.payment_id
where p.payment_id is null
