{# Fraud KPIs of int_payment_facts per `grain` of event time ('hour', 'day') and rules version
   (`undecided` for payments no version decided yet): volume, alerts by severity, alert rate,
   amount at risk (the amount of alerted payments). #}
{% macro fraud_kpis(grain) %}
select
    date_trunc('{{ grain }}', event_time, 'UTC') as event_{{ grain }},
    coalesce(rules_version, 'undecided') as rules_version,
    count(*)::bigint as payments,
    sum(amount)::numeric(18, 2) as amount,
    count(*) filter (where is_alert)::bigint as alerts,
    count(*) filter (where is_alert and severity = 'HIGH')::bigint as alerts_high,
    count(*) filter (where is_alert and severity = 'MEDIUM')::bigint as alerts_medium,
    count(*) filter (where is_alert and severity = 'LOW')::bigint as alerts_low,
    round(count(*) filter (where is_alert)::numeric / count(*), 4)::numeric(6, 4) as alert_rate,
    coalesce(sum(amount) filter (where is_alert), 0)::numeric(18, 2) as amount_at_risk
from {{ ref('int_payment_facts') }}
group by 1, 2
{% endmacro %}
