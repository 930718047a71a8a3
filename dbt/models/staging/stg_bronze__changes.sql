-- Which payments have a part (payment, decision, alert, chargeback, truth) loaded when: what
-- int_payment_facts' incremental runs read to find the payments to rebuild. A view over the Bronze
-- tables' loaded_at indexes (a filter on loaded_at reaches each table's index).
{% for table in ['payments', 'payment_scores', 'fraud_alerts', 'chargebacks', 'ground_truth'] %}
select payment_id, loaded_at from {{ source('bronze', table) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
