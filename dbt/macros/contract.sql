{# Generated from src/fraudlake/contract/ by `python -m fraudlake_lake.dbt_contract`; do not edit. #}

{# The allowed values of a contract field, e.g. contract_values('payment', 'currency'). #}
{% macro contract_values(record, field) %}
{% set enums = {'payment': {'currency': ['EUR', 'USD', 'GBP', 'PLN', 'CHF', 'SEK', 'CZK'], 'status': ['succeeded', 'failed'], 'failure_reason': ['insufficient_funds', 'card_declined', 'incorrect_cvc', 'expired_card', 'do_not_honor', 'processing_error'], 'payment_method': ['card', 'paypal', 'apple_pay', 'google_pay', 'bank_transfer'], 'device_type': ['ios', 'android', 'web']}, 'customer_profile': {}, 'chargeback': {'currency': ['EUR', 'USD', 'GBP', 'PLN', 'CHF', 'SEK', 'CZK'], 'reason': ['fraudulent', 'unrecognized', 'product_not_received', 'not_as_described']}, 'decision': {'severity': ['LOW', 'MEDIUM', 'HIGH']}, 'alert': {'severity': ['LOW', 'MEDIUM', 'HIGH'], 'currency': ['EUR', 'USD', 'GBP', 'PLN', 'CHF', 'SEK', 'CZK']}, 'dead_letter': {}, 'ground_truth': {}} %}
{{ return(enums[record][field]) }}
{% endmacro %}

{# Rows whose `column_name` is not one of its contract field's values (nulls pass). #}
{% test in_contract(model, column_name, record, field=none) %}
select * from {{ model }}
where {{ column_name }} not in ('{{ contract_values(record, field or column_name) | join("', '") }}')
{% endtest %}
