-- Internal mobility: share of completers with a promotion, lateral move or job-family
-- change within mobility_months after exit, minus the same share among their matched
-- controls still employed at the participant's exit (docs/methods.md), in points.
with episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

evaluated_people as (
    select
        coalesce(episode_outcomes.program_type, 'unknown') as program_type,
        coalesce(episode_outcomes.method, 'unknown') as method,
        person_outcomes.role,
        person_outcomes.measured_worker_id,
        person_outcomes.is_employed_at_exit,
        case when person_outcomes.role = 'participant' then episode_outcomes.mobility_outcome end
            as participant_outcome,
        case when person_outcomes.role = 'participant' then episode_outcomes.control_mobility_rate end
            as control_rate,
        case when person_outcomes.role = 'participant' then episode_outcomes.mobility_difference end
            as outcome_difference
    from person_outcomes
    inner join episode_outcomes
        on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
    where episode_outcomes.is_mobility_evaluated
),

{% set aggregates %}
        count(distinct case when role = 'participant' then measured_worker_id end) as n_people,
        count(outcome_difference) as n_episodes,
        count(distinct case when role = 'control' and is_employed_at_exit then measured_worker_id end)
            as n_comparison,
        sum(participant_outcome) as participants_with_outcome,
        avg(participant_outcome) as participant_rate,
        avg(control_rate) as comparison_rate,
        avg(outcome_difference) as mean_difference,
        stddev_samp(outcome_difference) as sd_difference
{% endset %}

sliced as (
    {{ kpi_sliced('evaluated_people', aggregates) }}
),

published as (
    select
        cast('internal_mobility' as varchar) as kpi,
        sliced.slice_grain,
        sliced.program_type,
        sliced.method,
        cast('all' as varchar) as period,
        cast('did_matched' as varchar) as estimation_method,
        cast(4 as integer) as evaluation_level,
        cast('pp' as varchar) as unit,
        round(cast({{ unless_suppressed('sliced.participants_with_outcome', 'sliced.n_people') }} as double), 4) as numerator,
        round(cast({{ unless_suppressed('sliced.n_episodes', 'sliced.n_people') }} as double), 4) as denominator,
        cast({{ unless_suppressed('sliced.n_episodes', 'sliced.n_people') }} as bigint) as n,
        {{ count_band('sliced.n_people') }} as n_band,
        cast({{ unless_suppressed('sliced.n_comparison', 'sliced.n_people') }} as bigint) as n_comparison,
        round(cast({{ unless_suppressed('100.0 * sliced.mean_difference', 'sliced.n_people') }} as double), 4) as estimate,
        round(cast({{ unless_suppressed(
            '100.0 * (sliced.mean_difference - ' ~ ci_z() ~ ' * sliced.sd_difference / sqrt(sliced.n_episodes))',
            'sliced.n_people') }} as double), 4) as ci_low,
        round(cast({{ unless_suppressed(
            '100.0 * (sliced.mean_difference + ' ~ ci_z() ~ ' * sliced.sd_difference / sqrt(sliced.n_episodes))',
            'sliced.n_people') }} as double), 4) as ci_high,
        round(cast({{ unless_suppressed('100.0 * sliced.participant_rate', 'sliced.n_people') }} as double), 4)
            as participant_rate_pct,
        round(cast({{ unless_suppressed('100.0 * sliced.comparison_rate', 'sliced.n_people') }} as double), 4)
            as comparison_rate_pct,
        parameters.mobility_months as window_months,
        false as is_flagged,
        parameters.definition_version,
        sliced.n_people < parameters.min_cell_size as suppressed
    from sliced
    cross join parameters
)

select * from published
