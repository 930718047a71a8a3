{# rows whose value lies outside [low, high] (nulls pass: not_null says whether they may exist) #}
{% test between(model, column_name, low, high) %}
select * from {{ model }}
where {{ column_name }} < {{ low }} or {{ column_name }} > {{ high }}
{% endtest %}
