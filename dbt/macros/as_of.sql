{# The moment a build describes: var `as_of` (an ISO timestamp, for reproducible builds and tests),
   else when this dbt invocation started. Models use it instead of now(). #}
{% macro as_of() -%}
    '{{ var("as_of", run_started_at.isoformat()) }}'::timestamptz
{%- endmacro %}
