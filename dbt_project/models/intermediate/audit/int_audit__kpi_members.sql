{{ config(materialized='view') }}
-- Who counts in each traceable KPI cell: one row per unit of a KPI's input (an enrollment,
-- an exited episode's participant, or a comparison employee matched to it), with its slice
-- dimensions and its contribution to the numerator and denominator. A view: the audit step
-- (audit/members.py) copies it into members/<run_id>/members.parquet once per run.
-- Each select mirrors the population filter of the mart named in `mart`; the audit tests
-- recompute every published numerator and denominator from these rows.

{%- set impact_members = [
    ('retention', 'kpi_retention', 'retention', 'is_retention_evaluated', none),
    ('voluntary_separation', 'kpi_retention', 'voluntary_separation', 'is_retention_evaluated', none),
    ('involuntary_separation', 'kpi_retention', 'involuntary_separation', 'is_retention_evaluated', none),
    ('internal_mobility', 'kpi_internal_mobility', 'mobility', 'is_mobility_evaluated', none),
    ('internal_mobility_promotion', 'kpi_internal_mobility', 'promotion', 'is_mobility_evaluated', none),
    ('internal_mobility_job_family_change', 'kpi_internal_mobility', 'job_family_change', 'is_mobility_evaluated', none),
    ('internal_mobility_reskilling_landed', 'kpi_internal_mobility', 'reskilling_landed', 'is_mobility_evaluated', 'reskilling'),
    ('internal_mobility_title_change', 'kpi_internal_mobility', 'title_change', 'is_mobility_evaluated', none),
] %}


with parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

learning_history as (
    select * from {{ ref('int_learning_history') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

-- kpi_completion_rate: enrollments whose completion window has closed
completion_rate as (
    select
        'completion_rate' as kpi, 'kpi_completion_rate' as mart, 'participant' as role,
        learning_history.worker_id, learning_history.enrollment_id,
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.started_on')) }},
        case when learning_history.counts_as_completed then 1.0 else 0 end as numerator,
        1.0 as denominator,
        false as in_comparison
    from learning_history
    where learning_history.is_window_closed
),

-- kpi_certification_attainment: first attempts whose certification window has passed
certification_attainment as (
    select
        'certification_attainment' as kpi, 'kpi_certification_attainment' as mart, 'participant' as role,
        learning_history.worker_id, learning_history.enrollment_id,
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.exit_date')) }},
        case when learning_history.has_credential then 1.0 else 0 end as numerator,
        1.0 as denominator,
        false as in_comparison
    from learning_history
    cross join parameters
    cross join data_window
    where learning_history.is_first_attempt
      and learning_history.exit_date is not null
      and {{ add_to_date('day', 'cast(parameters.certification_days as integer)', 'learning_history.exit_date') }}
          <= data_window.data_end_date
),

-- kpi_productivity_change publishes no numerator: a participant's contribution is its DiD
-- (index points, before winsorising) and the denominator counts its episode
productivity_change as (
    select
        'productivity_change' as kpi, 'kpi_productivity_change' as mart, person_outcomes.role,
        person_outcomes.measured_worker_id as worker_id, person_outcomes.enrollment_id,
        {{ kpi_input_dimensions('episode_outcomes', period_of('episode_outcomes.exit_date')) }},
        case when person_outcomes.role = 'participant' then episode_outcomes.productivity_did else 0 end
            as numerator,
        case when person_outcomes.role = 'participant' then 1.0 else 0 end as denominator,
        person_outcomes.role = 'control' and person_outcomes.productivity_change is not null as in_comparison
    from person_outcomes
    inner join episode_outcomes
        on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
    where episode_outcomes.productivity_did is not null
),

{% for kpi, mart, column, evaluated, program_type in impact_members %}
-- {{ mart }}: participants count in the numerator and denominator, controls in n_comparison
{{ kpi }} as (
    select
        '{{ kpi }}' as kpi, '{{ mart }}' as mart, person_outcomes.role,
        person_outcomes.measured_worker_id as worker_id, person_outcomes.enrollment_id,
        {{ kpi_input_dimensions('episode_outcomes', period_of('episode_outcomes.exit_date')) }},
        case when person_outcomes.role = 'participant'
             then coalesce(cast(episode_outcomes.{{ column }}_outcome as double), 0) else 0 end as numerator,
        case when person_outcomes.role = 'participant' then 1.0 else 0 end as denominator,
        person_outcomes.role = 'control' and person_outcomes.is_employed_at_exit as in_comparison
    from person_outcomes
    inner join episode_outcomes
        on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
    where episode_outcomes.{{ evaluated }}
    {%- if program_type %}
      and episode_outcomes.program_type = '{{ program_type }}'
    {%- endif %}
),
{% endfor %}

members as (
    select * from completion_rate
    union all select * from certification_attainment
    union all select * from productivity_change
    {%- for kpi, _, _, _, _ in impact_members %}
    union all select * from {{ kpi }}
    {%- endfor %}
)

select
    kpi,
    mart,
    role,
    worker_id,
    enrollment_id,
    program_type,
    method,
    program_id,
    cohort,
    department,
    region,
    period,
    cast(numerator as double) as numerator,
    cast(denominator as double) as denominator,
    in_comparison
from members
