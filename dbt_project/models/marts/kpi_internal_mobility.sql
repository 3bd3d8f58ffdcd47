-- Internal mobility (docs/methods.md): completers with an internal move within
-- mobility_months after exit, minus the same share among their matched controls still
-- employed at the participant's exit, in points. Definition variants are a dimension
-- (macros/impact.sql): any_move (promotion, lateral or job-family change: the headline
-- `internal_mobility`), promotion, job_family_change, reskilling_landed (a job-family
-- change into the program's target family; reskilling programs only) and title_change.
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

evaluated_people as (
    {%- for variant in mobility_variants() %}
    select
        cast('{{ variant.kpi }}' as {{ dbt.type_string() }}) as kpi,
        cast('{{ variant.variant }}' as {{ dbt.type_string() }}) as definition_variant,
        {{ kpi_input_dimensions('episode_outcomes', period_of('episode_outcomes.exit_date')) }},
        person_outcomes.role,
        person_outcomes.measured_worker_id,
        person_outcomes.is_employed_at_exit,
        case when person_outcomes.role = 'participant' then episode_outcomes.{{ variant.column }}_outcome end
            as participant_outcome,
        -- controls: the Kaplan-Meier inputs (macros/impact.sql km_control_rates)
        person_outcomes.match_weight as weight,
        case when person_outcomes.censor_offset is null or person_outcomes.{{ variant.column }}_before_censoring
            then person_outcomes.{{ variant.column }}_offset end as event_offset,
        case when not coalesce(person_outcomes.{{ variant.column }}_before_censoring, false)
            then person_outcomes.censor_offset end as censor_offset,
        parameters.mobility_months as window_months
    from person_outcomes
    cross join parameters
    inner join episode_outcomes
        on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
    where episode_outcomes.is_mobility_evaluated
    {%- if variant.program_type %}
      and episode_outcomes.program_type = '{{ variant.program_type }}'
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

sliced_variants as (
    {{ kpi_sliced('evaluated_people', did_rate_aggregates(), keys=['kpi', 'definition_variant'], grains=grains) }}
),
{% endset %}{{ ti_persisted_ctes(leading_ctes, ['parameters', 'funnel_rows', 'slice_checks', 'evaluated_people', 'sliced_variants']) }}
-- the variants measure the same people, except reskilling_landed (reskilling programs only).
-- A reskilling-only cell publishes the same people as the reskilling cell of the others:
-- its overall cell is their reskilling program type, its period cells their
-- (reskilling, period) cells, its program cells the same program cells
{{ population_suppression('sliced_variants', 'n_people', name='sliced', grains=grains,
    population="case when kpi = 'internal_mobility_reskilling_landed' then 'reskilling' else 'all' end",
    links="a.population = 'reskilling' and b.population = 'all' and b.program_type = 'reskilling'
        and b.method = a.method and b.program_id = a.program_id and b.cohort = a.cohort
        and b.department = a.department and b.region = a.region and b.period = a.period
        and ((a.slice_grain = b.slice_grain and a.program_type = 'reskilling')
            or (a.slice_grain = 'overall' and b.slice_grain = 'program_type')
            or (a.slice_grain = 'period' and b.slice_grain = 'program_type_period'))") }},

controls as (
    select * from evaluated_people where role = 'control'
),

{{ km_control_rates('controls', ['kpi', 'definition_variant'], grains=grains) }},

rates as (
    select
        sliced.*,
        {{ km_difference('sliced', 'km', 'false') }}
    from sliced
    left join km
        on {{ kpi_slice_join('sliced', 'km') }}
        and sliced.kpi = km.kpi
),

-- the funnel: reskilling_landed counts reskilling participants only
funnel_input as (
    select
        {{ kpi_input_dimensions('funnel_rows', period_of('funnel_rows.exit_date')) }},
        population.name as population,
        funnel_rows.mobility_exclusion
    from funnel_rows
    inner join (select 'all' as name union all select 'reskilling') as population
        on population.name = 'all' or funnel_rows.program_type = 'reskilling'
),

funnel as (
    {{ kpi_sliced('funnel_input', funnel_aggregates('mobility_exclusion'), keys=['population'], grains=grains) }}
),

published as (
    select
        rates.kpi,
        {{ kpi_slice_key('rates') }},
        {{ did_rate_published('rates', 'rates') }}
        {{ funnel_published('rates.is_suppressed') }}
        rates.definition_variant,
        parameters.mobility_months as window_months,
        {{ flag_reasons(['slice_checks.flag_reason', low_used_share_reason()]) }} is not null as is_flagged,
        {{ flag_reasons(['slice_checks.flag_reason', low_used_share_reason()]) }} as flag_reason,
        parameters.definition_version,
        rates.is_suppressed as suppressed
    from rates
    cross join parameters
    left join funnel
        on {{ kpi_slice_join('rates', 'funnel') }}
        and funnel.population = case when rates.kpi = 'internal_mobility_reskilling_landed' then 'reskilling' else 'all' end
    left join slice_checks
        on {{ kpi_slice_join('rates', 'slice_checks') }}
)

select * from published
