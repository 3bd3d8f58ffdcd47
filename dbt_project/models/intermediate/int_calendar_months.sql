-- One row per calendar month of the data window (a month spine built without
-- introspective queries, so it also runs under unit tests and --empty).
with data_window as (
    select * from {{ ref('int_data_window') }}
),

digits as (
    select 0 as digit union all select 1 union all select 2 union all select 3
    union all select 4 union all select 5 union all select 6 union all select 7
    union all select 8 union all select 9
),

month_offsets as (
    select hundreds.digit * 100 + tens.digit * 10 + units.digit as month_offset
    from digits as hundreds
    cross join digits as tens
    cross join digits as units
),

months as (
    select
        month_offsets.month_offset,
        {{ add_to_date('month', 'month_offsets.month_offset', 'data_window.data_start_month') }} as month_start
    from month_offsets
    cross join data_window
    where {{ add_to_date('month', 'month_offsets.month_offset', 'data_window.data_start_month') }}
        <= data_window.data_end_month
),

calendar_months as (
    select
        month_start,
        {{ add_to_date('day', -1, add_to_date('month', 1, 'month_start')) }} as month_end
    from months
)

select * from calendar_months
