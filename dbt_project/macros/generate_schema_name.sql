{# Layer schemas are named as the layer (staging, intermediate, marts), not <target>_<layer>:
   one warehouse file per environment, so the prefix would only add noise for BI users. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
