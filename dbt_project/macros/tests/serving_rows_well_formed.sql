{#
  A serving view's rows (models/serving, DECISIONS D126) read the way docs/serving.md says:
  - status is one of reported, flagged, suppressed, not_enough_data, not_measured;
  - status_reason is null exactly when the row is reported;
  - a suppressed or not_measured row publishes no figure (every column of `figure_columns` null), like the marts;
  - the table holds one estimation method.
#}
{% test serving_rows_well_formed(model, figure_columns) %}
    select *
    from {{ model }}
    where status is null
       or status not in ('reported', 'flagged', 'suppressed', 'not_enough_data', 'not_measured')
       or (status = 'reported') != (status_reason is null)
       or (status in ('suppressed', 'not_measured') and (
            {%- for column in figure_columns %}
            {{ column }} is not null{{ ' or' if not loop.last }}
            {%- endfor %}
          ))
       or (select count(distinct estimation_method) from {{ model }}) != 1
{% endtest %}
