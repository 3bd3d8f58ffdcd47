-- The fully-loaded cost ledger (Phillips) at enrollment grain, so every KPI slice
-- (program, cohort, department, region, period) adds up the same costs:
--   * a line of a known program goes to that program's enrollments: to the worker's own
--     enrollment when the line names a worker, else to the line's cohort (YYYY-MM of the
--     start month) when it names one, else to all the program's enrollments; equal shares;
--   * design and development serve the program's whole expected life: prorated by the
--     share of expected_life_years the data window covers;
--   * shared lines (no program, or a program nobody enrolled in) are allocated to every
--     enrollment by its share of learning hours (equal shares when no hours are recorded);
--   * participants' wages for learning time: hours × base pay × loaded_wage_multiplier ÷
--     working_hours_per_year;
--   * grants and tax credits are offsets (negative), kept in their own categories.
-- Lines in another currency than reporting.currency are left out (no exchange rates).
with cost_lines_all as (
    select * from {{ ref('stg_finance__cost_lines') }}
),

programs as (
    select * from {{ ref('stg_lms__programs') }}
),

learning_history as (
    select * from {{ ref('int_learning_history') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

cost_lines as (
    select cost_lines_all.*
    from cost_lines_all
    cross join parameters
    where cost_lines_all.currency = parameters.currency
),

enrollments as (
    select
        enrollment_id,
        worker_id,
        program_id,
        cohort_month,
        coalesce(hours_spent, 0) as hours_spent
    from learning_history
),

evaluation_period as (
    select
        cast({{ dbt.datediff('data_start_month', 'data_end_month', 'month') }} + 1 as double) / 12 as evaluation_years
    from data_window
),

program_lines as (
    select
        cost_lines.line_id,
        cost_lines.cost_category,
        cost_lines.program_id,
        cost_lines.worker_id,
        cost_lines.cohort,
        case
            when cost_lines.cost_category = 'design_development' and programs.expected_life_years > 0
                then cast(cost_lines.amount as double)
                    * least(1.0, evaluation_period.evaluation_years / programs.expected_life_years)
            else cast(cost_lines.amount as double)
        end as amount
    from cost_lines
    left join programs
        on cost_lines.program_id = programs.program_id
    cross join evaluation_period
    where cost_lines.program_id in (select program_id from enrollments)
),

-- The narrowest target a line names: its worker's enrollments in the program, else its cohort's,
-- else every enrollment of the program. Each line's level is found first, against the distinct
-- (program, worker) and (program, cohort) keys, one row per line; then each level is one equi-join,
-- so a line meets only the enrollments it goes to. (Ranking every line against every enrollment of
-- its program grew with the square of the company's size, issue 15.)
worker_keys as (
    select distinct program_id, worker_id from enrollments
),

cohort_keys as (
    select distinct program_id, cohort_month from enrollments
),

line_levels as {{ ti_materialized() }} (
    select
        program_lines.*,
        case
            when worker_keys.worker_id is not null then 'worker'
            when cohort_keys.cohort_month is not null then 'cohort'
            else 'program'
        end as target_level
    from program_lines
    left join worker_keys
        on program_lines.program_id = worker_keys.program_id
       and program_lines.worker_id = worker_keys.worker_id
    left join cohort_keys
        on program_lines.program_id = cohort_keys.program_id
       and program_lines.cohort = cohort_keys.cohort_month
),

{%- set target_joins = [
    ('worker', 'and line_levels.worker_id = enrollments.worker_id'),
    ('cohort', 'and line_levels.cohort = enrollments.cohort_month'),
    ('program', ''),
] %}
chosen_targets as (
    {%- for level, narrower in target_joins %}
    select line_levels.*, enrollments.enrollment_id
    from line_levels
    inner join enrollments
        on line_levels.program_id = enrollments.program_id
       {{ narrower }}
    where line_levels.target_level = '{{ level }}'
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

direct_costs as (
    select
        enrollment_id,
        line_id,
        cost_category,
        amount / count(*) over (partition by line_id) as amount,
        cast('direct' as {{ dbt.type_string() }}) as allocation
    from chosen_targets
),

shared_lines as (
    select
        cost_lines.cost_category,
        cast(sum(cost_lines.amount) as double) as amount
    from cost_lines
    where cost_lines.program_id is null
       or cost_lines.program_id not in (select program_id from enrollments)
    group by cost_lines.cost_category
),

hour_shares as (
    select
        enrollment_id,
        case
            when cast(sum({{ ti_exact_decimal('hours_spent') }}) over () as double) > 0
                then hours_spent / cast(sum({{ ti_exact_decimal('hours_spent') }}) over () as double)
            else 1 / cast(count(*) over () as double)
        end as hour_share
    from enrollments
),

allocated_costs as (
    select
        hour_shares.enrollment_id,
        cast(null as {{ dbt.type_string() }}) as line_id,
        shared_lines.cost_category,
        shared_lines.amount * hour_shares.hour_share as amount,
        cast('shared_by_hours' as {{ dbt.type_string() }}) as allocation
    from shared_lines
    cross join hour_shares
    where hour_shares.hour_share > 0
),

-- learning time is paid time: hours × loaded hourly rate from base pay at the start
participant_wage_costs as (
    select
        learning_history.enrollment_id,
        cast(null as {{ dbt.type_string() }}) as line_id,
        cast('participant_wages' as {{ dbt.type_string() }}) as cost_category,
        coalesce(learning_history.hours_spent, 0)
            * cast(learning_history.base_pay as double) * parameters.loaded_wage_multiplier
            / parameters.working_hours_per_year as amount,
        cast('wages' as {{ dbt.type_string() }}) as allocation
    from learning_history
    cross join parameters
    where learning_history.base_pay is not null
      and coalesce(learning_history.pay_currency, parameters.currency) = parameters.currency
      and coalesce(learning_history.hours_spent, 0) > 0
),

cost_items as (
    select * from direct_costs
    union all
    select * from allocated_costs
    union all
    select * from participant_wage_costs
)

select
    {{ surrogate_key(['enrollment_id', 'line_id', 'cost_category', 'allocation']) }} as cost_item_id,
    enrollment_id,
    line_id,
    cost_category,
    cost_category in ('grant', 'tax_credit') as is_offset,
    allocation,
    amount
from cost_items
