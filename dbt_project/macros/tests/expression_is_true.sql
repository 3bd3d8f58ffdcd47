{# Rows where the expression is not true fail the test (a null result fails too).
   Written here because the build runs without hub packages. #}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
