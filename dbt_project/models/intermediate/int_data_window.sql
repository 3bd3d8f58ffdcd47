-- The calendar the data covers. It ends on the as-of date of the latest HR extract
-- (landing contract: hris/workers_<YYYY-MM-DD>.csv, docs/layout.md), else on the last
-- day of the last month with productivity measures. Outcome windows that reach past
-- data_end_date are not evaluated.
with productivity as (
    select * from {{ ref('stg_performance__productivity') }}
),

workers as (
    select * from {{ ref('stg_hris__workers') }}
),

measured_months as (
    select
        min(period) as data_start_month,
        max(period) as last_measured_month
    from productivity
),

extract_dates as (
    select max(cast(nullif(regexp_extract(_source_file, '([0-9]{4}-[0-9]{2}-[0-9]{2})', 1), '') as date)) as extract_date
    from workers
),

data_window as (
    select
        measured_months.data_start_month,
        {{ month_of('coalesce(extract_dates.extract_date, ' ~ add_to_date('day', -1, add_to_date('month', 1, 'measured_months.last_measured_month')) ~ ')') }}
            as data_end_month,
        coalesce(
            extract_dates.extract_date,
            {{ add_to_date('day', -1, add_to_date('month', 1, 'measured_months.last_measured_month')) }}
        ) as data_end_date
    from measured_months
    cross join extract_dates
)

select * from data_window
