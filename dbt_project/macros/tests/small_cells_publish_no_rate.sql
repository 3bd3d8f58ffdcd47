{#
  docs/measurement.md privacy rule, on every published mart: a row publishes a figure
  only when its slice has at least organisation.min_cell_size people. The people count
  travels as n_band (exact when published, 'suppressed' otherwise; complementary
  suppression, macros/suppression.sql, also suppresses some larger cells), so a row fails when
  - it is suppressed and any figure column is filled, or
  - any figure column is filled while n_band is not a count of at least min_cell_size, or
  - its suppressed flag disagrees with n_band,
  except a "not measured" row (macros/measurement.sql): n_band 'not measured', no figure, not suppressed.
#}
{% test small_cells_publish_no_rate(model, figure_columns=['numerator', 'denominator', 'n', 'estimate', 'ci_low', 'ci_high']) %}
    with parameters as (
        select min_cell_size from {{ ref('stg_config__parameters') }}
    ),

    published_rows as (
        select
            rows_.*,
            try_cast(rows_.n_band as bigint) as people_published,
            (
            {%- for column in figure_columns %}
            rows_.{{ column }} is not null{{ ' or' if not loop.last }}
            {%- endfor %}
            ) as has_figure
        from {{ model }} as rows_
    )

    select published_rows.*
    from published_rows
    cross join parameters
    where ((published_rows.suppressed and published_rows.has_figure)
       or (published_rows.has_figure
           and coalesce(published_rows.people_published, 0) < parameters.min_cell_size)
       or (published_rows.suppressed = (coalesce(published_rows.people_published, 0) >= parameters.min_cell_size)))
      and not (published_rows.n_band = 'not measured' and not published_rows.suppressed
               and not published_rows.has_figure)
{% endtest %}
