{# The share of rows matching `part` among rows matching `whole`, as numeric(6, 4); null when no
   row matches `whole` (a recall with no fraud is unknown, not zero). #}
{% macro share(part, whole) %}
round(
    count(*) filter (where {{ part }} and {{ whole }})::numeric
    / nullif(count(*) filter (where {{ whole }}), 0), 4
)::numeric(6, 4)
{%- endmacro %}
