{# Direct identifiers flagged `pii: true` in ingestion/canonical_schemas.yml. #}
{% macro pii_columns() %}
    {{ return([
        'first_name', 'last_name', 'email', 'national_id',
        'recipient_first_name', 'recipient_last_name', 'recipient_email', 'ip_address'
    ]) }}
{% endmacro %}
