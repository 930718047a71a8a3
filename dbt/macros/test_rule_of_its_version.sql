{# rule hits whose rule id is not a rule of their decision's rules version (ops.rules_versions,
   recorded from the rules file): the accepted rule ids of each version come from its file #}
{% test rule_of_its_version(model, column_name) %}
select h.*
from {{ model }} as h
left join {{ ref('stg_ops__rules_versions') }} as v
    on v.rules_version = h.rules_version and h.{{ column_name }} = any(v.rule_ids)
where v.rules_version is null
{% endtest %}
