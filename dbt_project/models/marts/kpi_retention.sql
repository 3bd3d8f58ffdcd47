-- Retention: still employed retention_months after exit, completers minus their
-- matched controls still employed at the participant's exit (docs/methods.md), in
-- points; voluntary and involuntary separations in the same window reported apart.
-- The comparison side is the controls' Kaplan-Meier, each censored at its own enrolment (D68).
-- Every row carries the exclusion funnel. Rows of a slice that fails the balance or
-- pre-trend check, or that uses too few of its participants, are flagged with the reason.
{%- set grains = var('kpi_slice_grains', none) %}
{% set leading_ctes %}
with episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

funnel_rows as (
    select * from {{ ref('int_impact__episode_funnel') }}
),

slice_checks as (
    select distinct {{ kpi_slice_key() }}, flag_reason
    from {{ ref('kpi_comparison_balance') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

{#- kpi, participant outcome, the controls' event interval -#}
{%- set outcomes = [
    ('retention', 'retention_outcome', 'separation_offset'),
    ('voluntary_separation', 'voluntary_separation_outcome', 'voluntary_separation_offset'),
    ('involuntary_separation', 'involuntary_separation_outcome', 'involuntary_separation_offset'),
] %}

evaluated_people as (
    {%- for kpi, outcome, event_offset in outcomes %}
    select
        cast('{{ kpi }}' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_input_dimensions('episode_outcomes', period_of('episode_outcomes.exit_date')) }},
        person_outcomes.role,
        person_outcomes.measured_worker_id,
        person_outcomes.is_employed_at_exit,
        case when person_outcomes.role = 'participant' then episode_outcomes.{{ outcome }} end as participant_outcome,
        -- controls: the Kaplan-Meier inputs (macros/impact.sql km_control_rates)
        person_outcomes.match_weight as weight,
        case when person_outcomes.censor_offset is null or person_outcomes.separation_before_censoring
            then person_outcomes.{{ event_offset }} end as event_offset,
        case when not coalesce(person_outcomes.separation_before_censoring, false)
            then person_outcomes.censor_offset end as censor_offset,
        parameters.retention_months as window_months
    from person_outcomes
    cross join parameters
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
{% endset %}{{ ti_persisted_ctes(leading_ctes, ['parameters', 'funnel_rows', 'slice_checks', 'evaluated_people', 'sliced_kpis']) }}
-- retention and both separation KPIs measure the same people: one population
{{ population_suppression('sliced_kpis', 'n_people', name='sliced', grains=grains) }},

controls as (
    select * from evaluated_people where role = 'control'
),

{{ km_control_rates('controls', ['kpi'], grains=grains) }},

rates as (
    select
        sliced.*,
        {{ km_difference('sliced', 'km', "sliced.kpi = 'retention'") }}
    from sliced
    left join km
        on {{ kpi_slice_join('sliced', 'km') }}
        and sliced.kpi = km.kpi
),

funnel_input as (
    select
        {{ kpi_input_dimensions('funnel_rows', period_of('funnel_rows.exit_date')) }},
        funnel_rows.retention_exclusion
    from funnel_rows
),

funnel as (
    {{ funnel_sliced('retention_exclusion', grains=grains) }}
),

published as (
    select
        rates.kpi,
        {{ kpi_slice_key('rates') }},
        {{ did_rate_published('rates', 'rates') }}
        {{ funnel_published('rates.is_suppressed') }}
        parameters.retention_months as window_months,
        {{ flag_reasons(['slice_checks.flag_reason', low_used_share_reason()]) }} is not null as is_flagged,
        {{ flag_reasons(['slice_checks.flag_reason', low_used_share_reason()]) }} as flag_reason,
        parameters.definition_version,
        rates.is_suppressed as suppressed
    from rates
    cross join parameters
    left join funnel
        on {{ kpi_slice_join('rates', 'funnel') }}
    left join slice_checks
        on {{ kpi_slice_join('rates', 'slice_checks') }}
)

select * from published
