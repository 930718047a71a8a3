{# One row per `key` among the records the contract accepted: the first in `order_by`. Kafka
   delivers at least once, so every Bronze table can hold copies of one record. #}
{% macro first_copy(relation, key, order_by) %}
select * from (
    select *, row_number() over (partition by {{ key }} order by {{ order_by }}) as copy_number
    from {{ relation }}
    where contract_error is null
) as landed
where copy_number = 1
{% endmacro %}
