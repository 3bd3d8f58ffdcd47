-- One row per day, 2000-01-01 .. 2050-12-31: the time spine MetricFlow needs for the semantic layer
-- (models/semantic/_semantic__models.yml, DECISIONS D127). A view: nothing is stored.
{{ ti_day_spine("date '2000-01-01'", "date '2051-01-01'") }}
