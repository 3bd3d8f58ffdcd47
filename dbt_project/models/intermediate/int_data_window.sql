-- The calendar the data covers: first to last month with productivity measures.
-- Outcome windows that reach past data_end_date are not evaluated.
with productivity as (
    select * from {{ ref('stg_performance__productivity') }}
),

data_window as (
    select
        min(period) as data_start_month,
        max(period) as data_end_month,
        {{ add_to_date('day', -1, add_to_date('month', 1, 'max(period)')) }} as data_end_date
    from productivity
)

select * from data_window
