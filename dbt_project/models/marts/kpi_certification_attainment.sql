-- Certification attainment (docs/measurement.md): participant episodes that exited and
-- earned a credential during the program or within certification_days of exit ÷ episodes
-- that exited; the period is the exit year. Only exits whose certification window has
-- fully passed are counted, so recent exits do not pull the rate down.
-- Active certification rate as of a date: participants who exited by the date and are
-- employed on it, holding a credential of their program valid on it (issued_on ..
-- expires_on) ÷ those participants. As of the data end date for the whole window, as of
-- each year end (or the data end) for the period slices.
-- A company that delivers no credential records publishes both KPIs as not measured (one row
-- each saying why, macros/measurement.sql), not as 0% with an interval.
{%- set grains = var('kpi_slice_grains', none) %}
{%- set period_grains = [] %}
{%- for slice in kpi_slices(grains) if 'period' in slice.dimensions %}{% do period_grains.append(slice.slice_grain) %}{% endfor %}

with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

credentials as (
    select * from {{ ref('stg_lms__credentials') }}
),

spells as (
    select * from {{ ref('int_employee_history__spells') }}
),

calendar_months as (
    select * from {{ ref('int_calendar_months') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

measurement as (
    select count(*) as credential_rows from credentials
),

exited_episodes as (
    select
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.exit_date')) }},
        learning_history.worker_id,
        learning_history.has_credential
    from learning_history
    cross join parameters
    cross join data_window
    where learning_history.is_first_attempt
      and learning_history.exit_date is not null
      and {{ add_to_date('day', 'parameters.certification_days', 'learning_history.exit_date') }}
        <= data_window.data_end_date
),

-- as-of dates: the data end (period 'all') and each year end inside the window
as_of_dates as (
    select cast('all' as {{ dbt.type_string() }}) as as_of_period, data_end_date as as_of_date
    from data_window
    union all
    select
        {{ period_of('calendar_months.month_start') }} as as_of_period,
        least(max(calendar_months.month_end), max(data_window.data_end_date)) as as_of_date
    from calendar_months
    cross join data_window
    group by {{ period_of('calendar_months.month_start') }}
),

participants_as_of as (
    select
        learning_history.program_type,
        learning_history.method,
        learning_history.program_id,
        learning_history.cohort,
        learning_history.department,
        learning_history.region,
        as_of_dates.as_of_period,
        as_of_dates.as_of_date,
        learning_history.worker_id,
        learning_history.credential_name,
        learning_history.enrollment_id
    from learning_history
    cross join as_of_dates
    inner join spells
        on learning_history.worker_id = spells.worker_id
        and spells.employment_status = 'active'
        and as_of_dates.as_of_date between spells.valid_from and spells.valid_to
    where learning_history.is_first_attempt
      and learning_history.exit_date <= as_of_dates.as_of_date
),

holders as (
    select
        participants_as_of.enrollment_id,
        participants_as_of.as_of_period
    from participants_as_of
    inner join credentials
        on participants_as_of.worker_id = credentials.worker_id
        and (
            credentials.program_id = participants_as_of.program_id
            or (credentials.program_id is null and credentials.credential_name = participants_as_of.credential_name)
        )
        and credentials.issued_on <= participants_as_of.as_of_date
        and (credentials.expires_on is null or credentials.expires_on >= participants_as_of.as_of_date)
    group by 1, 2
),

active_holders as (
    select
        {{ kpi_input_dimensions('participants_as_of', 'participants_as_of.as_of_period') }},
        participants_as_of.worker_id,
        holders.enrollment_id is not null as has_credential
    from participants_as_of
    left join holders
        on participants_as_of.enrollment_id = holders.enrollment_id
        and participants_as_of.as_of_period = holders.as_of_period
),

active_whole_window as (
    select * from active_holders where period = 'all'
),

active_by_year as (
    select * from active_holders where period != 'all'
),

{% set aggregates %}
        count(distinct worker_id) as n,
        count(*) as episodes,
        sum(case when has_credential then 1 else 0 end) as credentialed
{% endset %}

sliced_cells as (
    select cast('certification_attainment' as {{ dbt.type_string() }}) as kpi, attainment.*
    from ({{ kpi_sliced('exited_episodes', aggregates, grains=grains) }}) as attainment
    union all
    select cast('active_certification_rate' as {{ dbt.type_string() }}) as kpi, active.*
    from ({{ kpi_sliced('active_whole_window', aggregates, grains=kpi_grains_without_period(grains)) }}) as active
    {%- if period_grains %}
    union all
    select cast('active_certification_rate' as {{ dbt.type_string() }}) as kpi, active_yearly.*
    from ({{ kpi_sliced('active_by_year', aggregates, grains=period_grains) }}) as active_yearly
    {%- endif %}
),

-- the active rate of a year is as of its year end, the whole-window one as of the data end:
-- year cells do not add up to the whole window
{{ complementary_suppression('sliced_cells', 'n', keys=['kpi'], grains=grains, name='sliced',
    period_partition_where="child.kpi = 'certification_attainment'") }},

published as (
    select
        sliced.kpi,
        {{ kpi_slice_key('sliced') }},
        cast('observed' as {{ dbt.type_string() }}) as estimation_method,
        cast(2 as integer) as evaluation_level,
        cast('pct' as {{ dbt.type_string() }}) as unit,
        {{ observed_rate_published('sliced', 'credentialed', 'episodes', n='n', people='n') }}
        case when sliced.kpi = 'certification_attainment' then parameters.certification_days end as window_days,
        as_of_dates.as_of_date,
        false as is_flagged,
        cast(null as {{ dbt.type_string() }}) as flag_reason,
        parameters.definition_version,
        sliced.is_suppressed as suppressed,
        {{ measured_columns() }}
    from sliced
    cross join parameters
    left join as_of_dates
        on sliced.kpi = 'active_certification_rate'
        and sliced.period = as_of_dates.as_of_period
),

not_measured as (
    {{ not_measured_rows(['certification_attainment', 'active_certification_rate'], 'observed', 2, 'pct',
        reason="'no credential records were delivered (LMS credentials): nobody can be counted as certified'") }}
)

{{ ti_published_or_not_measured('published', 'not_measured', '(select credential_rows > 0 from measurement)') }}
