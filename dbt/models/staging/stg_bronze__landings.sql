-- Every landed Bronze record's times, by Bronze table: its Kafka timestamp, when the sink wrote it
-- to MinIO and when the loader put it in PostgreSQL (what bronze_freshness measures).
{% for table in ['payments', 'payment_scores', 'fraud_alerts', 'payments_dlq', 'chargebacks', 'ground_truth'] %}
select '{{ table }}'::text as bronze_table, kafka_timestamp, ingested_at, loaded_at
from {{ source('bronze', table) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
