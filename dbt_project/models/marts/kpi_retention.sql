-- Retention: still employed retention_months after exit, completers minus their
-- matched controls still employed at the participant's exit (docs/methods.md), in
-- points; voluntary and involuntary separations in the same window reported apart.
-- Rows of a slice that fails the balance or pre-trend check are flagged.
{%- set grains = var('kpi_slice_grains', none) %}

with episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

slice_checks as (
    select distinct {{ kpi_slice_key() }}, flag_reason
    from {{ ref('kpi_comparison_balance') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

{%- set outcomes = [
    ('retention', 'retention_outcome', 'control_retention_rate', 'retention_difference'),
    ('voluntary_separation', 'voluntary_separation_outcome', 'control_voluntary_separation_rate', 'voluntary_separation_difference'),
    ('involuntary_separation', 'involuntary_separation_outcome', 'control_involuntary_separation_rate', 'involuntary_separation_difference'),
] %}

evaluated_people as (
    {%- for kpi, outcome, control_rate, difference in outcomes %}
    select
        cast('{{ kpi }}' as varchar) as kpi,
        {{ kpi_input_dimensions('episode_outcomes', period_of('episode_outcomes.exit_date')) }},
        person_outcomes.role,
        person_outcomes.measured_worker_id,
        person_outcomes.is_employed_at_exit,
        case when person_outcomes.role = 'participant' then episode_outcomes.{{ outcome }} end as participant_outcome,
        case when person_outcomes.role = 'participant' then episode_outcomes.{{ control_rate }} end as control_rate,
        case when person_outcomes.role = 'participant' then episode_outcomes.{{ difference }} end as outcome_difference
    from person_outcomes
    inner join episode_outcomes
        on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
    where episode_outcomes.is_retention_evaluated
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

sliced_kpis as (
    {{ kpi_sliced('evaluated_people', did_rate_aggregates(), keys=['kpi'], grains=grains) }}
),

-- retention and both separation KPIs measure the same people: one population
{{ population_suppression('sliced_kpis', 'n_people', name='sliced', grains=grains) }},

published as (
    select
        sliced.kpi,
        {{ kpi_slice_key('sliced') }},
        {{ did_rate_published('sliced') }}
        parameters.retention_months as window_months,
        slice_checks.flag_reason is not null as is_flagged,
        slice_checks.flag_reason,
        parameters.definition_version,
        sliced.is_suppressed as suppressed
    from sliced
    cross join parameters
    left join slice_checks
        on {{ kpi_slice_join('sliced', 'slice_checks') }}
)

select * from published
