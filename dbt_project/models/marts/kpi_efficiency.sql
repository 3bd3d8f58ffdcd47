-- Efficiency (TDRp / ISO 30414, docs/measurement.md), evaluation level 0 (input):
-- participants, training hours per FTE-year, % of workforce trained, total training cost
-- (fully loaded, offsets apart), cost per learner and cost per completion.
-- A participant is counted in the period (year) its enrollment started; hours, completions
-- and costs (int_training_costs__allocated_to_enrollments) follow the enrollment.
-- Workforce denominators: people employed at any month end of the period and FTE-years
-- (FTE % ÷ 100 summed over employed month ends ÷ 12), of the slice's department or region
-- where the slice has one, of the whole company otherwise.
{%- set grains = var('kpi_slice_grains', none) %}

with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

costs as (
    select * from {{ ref('int_training_costs__allocated_to_enrollments') }}
),

panel as (
    select * from {{ ref('int_employee_history__monthly_panel') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

enrollment_costs as (
    select
        enrollment_id,
        {{ exact_sum('case when not is_offset then amount else 0 end') }} as cost,
        {{ exact_sum('case when is_offset then amount else 0 end') }} as offsets
    from costs
    group by enrollment_id
),

enrollments as (
    select
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.started_on')) }},
        learning_history.worker_id,
        coalesce(learning_history.hours_spent, 0) as hours_spent,
        case when learning_history.counts_as_completed then 1 else 0 end as is_completion,
        coalesce(enrollment_costs.cost, 0) as cost,
        coalesce(enrollment_costs.offsets, 0) as offsets
    from learning_history
    left join enrollment_costs
        on learning_history.enrollment_id = enrollment_costs.enrollment_id
),

-- one row per person, period, department and region with the FTE of their employed month
-- ends summed exactly: the slices count distinct people over these, not over every month
-- (a twelfth of the rows; the sums are the same in exact arithmetic, D66)
workforce_person_periods as (
    select
        coalesce(panel.department, 'unknown') as department,
        coalesce(panel.region, 'unknown') as region,
        {{ period_of('panel.period') }} as period,
        panel.worker_id,
        sum(cast(coalesce(panel.fte_pct, 100.0) / 100.0 as decimal(38, 12))) as fte
    from panel
    where panel.is_employed
    group by 1, 2, 3, 4
),

workforce_months as (
    select
        cast('all' as {{ dbt.type_string() }}) as program_type,
        cast('all' as {{ dbt.type_string() }}) as method,
        cast('all' as {{ dbt.type_string() }}) as program_id,
        cast('all' as {{ dbt.type_string() }}) as cohort,
        department,
        region,
        period,
        worker_id,
        fte
    from workforce_person_periods
),

{% set participant_aggregates %}
        count(distinct worker_id) as n_people,
        count(*) as n_enrollments,
        {{ exact_sum('hours_spent') }} as hours,
        sum(is_completion) as completions,
        {{ exact_sum('cost') }} as cost,
        {{ exact_sum('offsets') }} as offsets
{% endset %}

participants_cells as (
    {{ kpi_sliced('enrollments', participant_aggregates, grains=grains) }}
),

-- kpi_roi suppresses its cells from the same people the same way (its non-period grains)
{{ complementary_suppression('participants_cells', 'n_people', grains=grains, name='participants_sliced') }},

{% set workforce_aggregates %}
        count(distinct worker_id) as headcount,
        {{ exact_sum('fte') }} / 12.0 as fte_years
{% endset %}

workforce_sliced as (
    {{ kpi_sliced('workforce_months', workforce_aggregates, grains=grains) }}
),

measures as (
    select
        participants_sliced.*,
        workforce_sliced.headcount,
        workforce_sliced.fte_years
    from participants_sliced
    left join workforce_sliced
        on participants_sliced.slice_grain = workforce_sliced.slice_grain
        and participants_sliced.department = workforce_sliced.department
        and participants_sliced.region = workforce_sliced.region
        and participants_sliced.period = workforce_sliced.period
),

{%- set kpis = [
    ('participants', 'count', 'null', 'null', 'measures.n_people'),
    ('training_hours_per_fte', 'hours', 'measures.hours', 'measures.fte_years', 'measures.hours / nullif(measures.fte_years, 0)'),
    ('pct_workforce_trained', 'pct', 'measures.n_people', 'measures.headcount', '100.0 * measures.n_people / nullif(measures.headcount, 0)'),
    ('total_training_cost', 'currency', 'null', 'null', 'measures.cost'),
    ('cost_per_learner', 'currency', 'measures.cost', 'measures.n_people', 'measures.cost / nullif(measures.n_people, 0)'),
    ('cost_per_completion', 'currency', 'measures.cost', 'measures.completions', 'measures.cost / nullif(measures.completions, 0)'),
] %}

published as (
    {%- for kpi, unit, numerator, denominator, estimate in kpis %}
    select
        cast('{{ kpi }}' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('measures') }},
        cast('observed' as {{ dbt.type_string() }}) as estimation_method,
        cast(0 as integer) as evaluation_level,
        cast('{{ unit }}' as {{ dbt.type_string() }}) as unit,
        {{ published(numerator, 'measures.is_suppressed') }} as numerator,
        {{ published(denominator, 'measures.is_suppressed') }} as denominator,
        {{ published('measures.n_people', 'measures.is_suppressed', 'bigint') }} as n,
        {{ count_band('measures.n_people', 'measures.is_suppressed') }} as n_band,
        {{ published(estimate, 'measures.is_suppressed') }} as estimate,
        cast(null as double) as ci_low,
        cast(null as double) as ci_high,
        {{ published('measures.n_enrollments', 'measures.is_suppressed', 'bigint') }} as n_enrollments,
        {{ published('measures.completions', 'measures.is_suppressed', 'bigint') }} as n_completions,
        {{ published('measures.hours', 'measures.is_suppressed') }} as training_hours,
        {{ published('measures.fte_years', 'measures.is_suppressed') }} as workforce_fte_years,
        {{ published('measures.headcount', 'measures.is_suppressed', 'bigint') }} as workforce_headcount,
        {{ published('measures.cost', 'measures.is_suppressed') }} as fully_loaded_cost,
        {{ published('measures.offsets', 'measures.is_suppressed') }} as offsets_amount,
        parameters.currency,
        false as is_flagged,
        cast(null as {{ dbt.type_string() }}) as flag_reason,
        parameters.definition_version,
        measures.is_suppressed as suppressed
    from measures
    cross join parameters
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from published
