-- Certification attainment: participant episodes that exited and earned a credential
-- during the program or within certification_days of exit ÷ episodes that exited.
-- Only exits whose certification window has fully passed are counted, so recent
-- exits do not pull the rate down.
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

exited_episodes as (
    select
        coalesce(learning_history.program_type, 'unknown') as program_type,
        coalesce(learning_history.method, 'unknown') as method,
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

{% set aggregates %}
        count(distinct worker_id) as n,
        count(*) as exits,
        sum(case when has_credential then 1 else 0 end) as credentialed
{% endset %}

sliced as (
    {{ kpi_sliced('exited_episodes', aggregates) }}
),

published as (
    select
        cast('certification_attainment' as varchar) as kpi,
        sliced.slice_grain,
        sliced.program_type,
        sliced.method,
        cast('all' as varchar) as period,
        cast('observed' as varchar) as estimation_method,
        cast(2 as integer) as evaluation_level,
        cast('pct' as varchar) as unit,
        round(cast({{ unless_suppressed('sliced.credentialed', 'sliced.n') }} as double), 4) as numerator,
        round(cast({{ unless_suppressed('sliced.exits', 'sliced.n') }} as double), 4) as denominator,
        cast({{ unless_suppressed('sliced.n', 'sliced.n') }} as bigint) as n,
        {{ count_band('sliced.n') }} as n_band,
        round(cast({{ unless_suppressed('100.0 * sliced.credentialed / nullif(sliced.exits, 0)', 'sliced.n') }} as double), 4)
            as estimate,
        round(cast({{ unless_suppressed(wilson_bound_pct('sliced.credentialed', 'sliced.exits', -1), 'sliced.n') }} as double), 4)
            as ci_low,
        round(cast({{ unless_suppressed(wilson_bound_pct('sliced.credentialed', 'sliced.exits', 1), 'sliced.n') }} as double), 4)
            as ci_high,
        parameters.certification_days as window_days,
        false as is_flagged,
        parameters.definition_version,
        sliced.n < parameters.min_cell_size as suppressed
    from sliced
    cross join parameters
)

select * from published
