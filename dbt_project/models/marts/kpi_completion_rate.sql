-- Completion rate: enrollments counting as completed ÷ enrollments, once the program
-- window has closed. Completion and success are kept apart: the status counts sit
-- beside the rate, and waived counts as completed only where the program's rule says so.
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

closed_enrollments as (
    select
        coalesce(program_type, 'unknown') as program_type,
        coalesce(method, 'unknown') as method,
        worker_id,
        enrollment_id,
        status,
        counts_as_completed
    from learning_history
    where is_window_closed
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

sliced as (
    {{ kpi_sliced('closed_enrollments', aggregates) }}
),

published as (
    select
        cast('completion_rate' as varchar) as kpi,
        sliced.slice_grain,
        sliced.program_type,
        sliced.method,
        cast('all' as varchar) as period,
        cast('observed' as varchar) as estimation_method,
        cast(0 as integer) as evaluation_level,
        cast('pct' as varchar) as unit,
        round(cast({{ unless_suppressed('sliced.completions', 'sliced.n') }} as double), 4) as numerator,
        round(cast({{ unless_suppressed('sliced.enrollments', 'sliced.n') }} as double), 4) as denominator,
        cast({{ unless_suppressed('sliced.n', 'sliced.n') }} as bigint) as n,
        {{ count_band('sliced.n') }} as n_band,
        round(cast({{ unless_suppressed('100.0 * sliced.completions / nullif(sliced.enrollments, 0)', 'sliced.n') }} as double), 4)
            as estimate,
        round(cast({{ unless_suppressed(wilson_bound_pct('sliced.completions', 'sliced.enrollments', -1), 'sliced.n') }} as double), 4)
            as ci_low,
        round(cast({{ unless_suppressed(wilson_bound_pct('sliced.completions', 'sliced.enrollments', 1), 'sliced.n') }} as double), 4)
            as ci_high,
        cast({{ unless_suppressed('sliced.n_completed', 'sliced.n') }} as bigint) as n_completed,
        cast({{ unless_suppressed('sliced.n_passed', 'sliced.n') }} as bigint) as n_passed,
        cast({{ unless_suppressed('sliced.n_failed', 'sliced.n') }} as bigint) as n_failed,
        cast({{ unless_suppressed('sliced.n_waived', 'sliced.n') }} as bigint) as n_waived,
        cast({{ unless_suppressed('sliced.n_waived_counted_as_completed', 'sliced.n') }} as bigint)
            as n_waived_counted_as_completed,
        cast({{ unless_suppressed('sliced.n_withdrawn', 'sliced.n') }} as bigint) as n_withdrawn,
        cast({{ unless_suppressed('sliced.n_open', 'sliced.n') }} as bigint) as n_open,
        false as is_flagged,
        parameters.definition_version,
        sliced.n < parameters.min_cell_size as suppressed
    from sliced
    cross join parameters
)

select * from published
