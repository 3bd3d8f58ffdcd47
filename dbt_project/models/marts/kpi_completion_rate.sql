-- Completion rate: enrollments counting as completed ÷ enrollments, once the program
-- window has closed, per cohort (program × start month) and every other slice; the
-- period is the start year. Completion and success are kept apart: the status counts sit
-- beside the rate, and waived counts as completed only where the program's rule says so.
-- Not measured (one row saying why, macros/measurement.sql) when no enrollment was delivered or
-- no program has a window (window_days): no enrollment's window could ever close.
{%- set grains = var('kpi_slice_grains', none) %}

with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

measurement as (
    select
        count(*) as enrollments,
        count(learning_history.is_window_closed) as enrollments_with_window   -- null: the program has no window
    from learning_history
),

closed_enrollments as (
    select
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.started_on')) }},
        learning_history.worker_id,
        learning_history.enrollment_id,
        learning_history.status,
        learning_history.counts_as_completed
    from learning_history
    where learning_history.is_window_closed
),

{% set aggregates %}
        count(distinct worker_id) as n,
        count(*) as enrollments,
        sum(case when counts_as_completed then 1 else 0 end) as completions,
        sum(case when status = 'completed' then 1 else 0 end) as n_completed,
        sum(case when status = 'passed' then 1 else 0 end) as n_passed,
        sum(case when status = 'failed' then 1 else 0 end) as n_failed,
        sum(case when status = 'waived' then 1 else 0 end) as n_waived,
        sum(case when status = 'waived' and counts_as_completed then 1 else 0 end) as n_waived_counted_as_completed,
        sum(case when status = 'withdrawn' then 1 else 0 end) as n_withdrawn,
        sum(case when status in ('not_started', 'in_progress') then 1 else 0 end) as n_open
{% endset %}

sliced_cells as (
    {{ kpi_sliced('closed_enrollments', aggregates, grains=grains) }}
),

{{ complementary_suppression('sliced_cells', 'n', grains=grains, name='sliced') }},

published as (
    select
        cast('completion_rate' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('sliced') }},
        cast('observed' as {{ dbt.type_string() }}) as estimation_method,
        cast(0 as integer) as evaluation_level,
        cast('pct' as {{ dbt.type_string() }}) as unit,
        {{ observed_rate_published('sliced', 'completions', 'enrollments', n='n', people='n') }}
        {{ published('sliced.n_completed', 'sliced.is_suppressed', 'bigint') }} as n_completed,
        {{ published('sliced.n_passed', 'sliced.is_suppressed', 'bigint') }} as n_passed,
        {{ published('sliced.n_failed', 'sliced.is_suppressed', 'bigint') }} as n_failed,
        {{ published('sliced.n_waived', 'sliced.is_suppressed', 'bigint') }} as n_waived,
        {{ published('sliced.n_waived_counted_as_completed', 'sliced.is_suppressed', 'bigint') }} as n_waived_counted_as_completed,
        {{ published('sliced.n_withdrawn', 'sliced.is_suppressed', 'bigint') }} as n_withdrawn,
        {{ published('sliced.n_open', 'sliced.is_suppressed', 'bigint') }} as n_open,
        false as is_flagged,
        cast(null as {{ dbt.type_string() }}) as flag_reason,
        parameters.definition_version,
        sliced.is_suppressed as suppressed,
        {{ measured_columns() }}
    from sliced
    cross join parameters
),

not_measured as (
    {{ not_measured_rows(['completion_rate'], 'observed', 0, 'pct', also=['measurement'], reason="case
            when measurement.enrollments = 0 then 'no enrollments were delivered'
            else 'no program has a window (window_days) or a catalogue duration: no enrollment ever closes'
        end") }}
)

{{ ti_published_or_not_measured('published', 'not_measured', '(select enrollments_with_window > 0 from measurement)') }}
