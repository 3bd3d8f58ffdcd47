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
        ({{ dbt.datediff('data_start_month', 'data_end_month', 'month') }} + 1) / 12.0 as evaluation_years
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

-- the narrowest target a line names: its worker's enrollment, its cohort, its program
program_line_targets as (
    select
        program_lines.*,
        enrollments.enrollment_id,
        case
            when program_lines.worker_id = enrollments.worker_id then 1
            when program_lines.cohort = enrollments.cohort_month then 2
            else 3
        end as target_rank
    from program_lines
    inner join enrollments
        on program_lines.program_id = enrollments.program_id
),

chosen_targets as (
    select *
    from program_line_targets
    qualify target_rank = min(target_rank) over (partition by line_id)
),

direct_costs as (
    select
        enrollment_id,
        line_id,
        cost_category,
        amount / count(*) over (partition by line_id) as amount,
        cast('direct' as varchar) as allocation
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
            when cast(sum(cast(hours_spent as decimal(38, 12))) over () as double) > 0 then hours_spent / cast(sum(cast(hours_spent as decimal(38, 12))) over () as double)
            else 1.0 / count(*) over ()
        end as hour_share
    from enrollments
),

allocated_costs as (
    select
        hour_shares.enrollment_id,
        cast(null as varchar) as line_id,
        shared_lines.cost_category,
        shared_lines.amount * hour_shares.hour_share as amount,
        cast('shared_by_hours' as varchar) as allocation
    from shared_lines
    cross join hour_shares
    where hour_shares.hour_share > 0
),

-- learning time is paid time: hours × loaded hourly rate from base pay at the start
participant_wage_costs as (
    select
        learning_history.enrollment_id,
        cast(null as varchar) as line_id,
        cast('participant_wages' as varchar) as cost_category,
        coalesce(learning_history.hours_spent, 0)
            * cast(learning_history.base_pay as double) * parameters.loaded_wage_multiplier
            / parameters.working_hours_per_year as amount,
        cast('wages' as varchar) as allocation
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
