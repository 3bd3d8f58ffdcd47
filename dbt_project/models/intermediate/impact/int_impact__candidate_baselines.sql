-- The comparison pool at each start month of a treated episode: workers employed at the
-- month end and not enrolled in any program by then (first enrolment after the start
-- month, or never), with their cell and baseline over the same calendar pre window.
-- A later enrolment does not remove a candidate: keeping only those who never enrol
-- would condition on the future (stayers go on to enrol, leavers cannot), which leaves
-- an excess of future leavers in the pool and overstates retention effects.
-- Also the "before matching" side of the balance check (kpi_comparison_balance).
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

enrollments as (
    select * from {{ ref('stg_lms__enrollments') }}
),

panel as (
    select * from {{ ref('int_employee_history__monthly_panel') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

start_months as (
    select distinct
        start_month,
        pre_window_start_month,
        pre_window_end_month
    from learning_history
    where is_treated
),

first_enrolments as (
    select
        worker_id,
        min(coalesce(enrolled_at, started_at)) as first_enrolled_on
    from enrollments
    group by worker_id
),

candidates_at_start as (
    select
        start_months.start_month,
        start_months.pre_window_start_month,
        start_months.pre_window_end_month,
        panel.worker_id,
        panel.department,
        panel.management_level,
        panel.job_family,
        panel.tenure_band,
        panel.tenure_years,
        first_enrolments.first_enrolled_on
    from start_months
    inner join panel
        on panel.period = start_months.start_month
    left join first_enrolments
        on panel.worker_id = first_enrolments.worker_id
    where panel.is_employed
      and (
        first_enrolments.first_enrolled_on is null
        or first_enrolments.first_enrolled_on >= {{ add_to_date('month', 1, 'start_months.start_month') }}
      )
),

candidate_baselines as (
    select
        candidates_at_start.start_month,
        candidates_at_start.worker_id,
        candidates_at_start.department,
        candidates_at_start.management_level,
        candidates_at_start.job_family,
        candidates_at_start.tenure_band,
        candidates_at_start.tenure_years,
        candidates_at_start.first_enrolled_on,
        {{ exact_avg('panel.productivity_index') }} as baseline_productivity_index,
        count(panel.productivity_index) as baseline_productivity_months,
        {{ exact_avg('panel.manager_rating') }} as baseline_manager_rating,
        {{ exact_avg(early_pre_case('panel', 'candidates_at_start')) }} as early_pre_mean_index,
        {{ exact_avg(late_pre_case('panel', 'candidates_at_start')) }} as late_pre_mean_index
    from candidates_at_start
    inner join panel
        on candidates_at_start.worker_id = panel.worker_id
        and panel.period between candidates_at_start.pre_window_start_month
            and candidates_at_start.pre_window_end_month
    cross join parameters
    group by 1, 2, 3, 4, 5, 6, 7, 8, parameters.min_months_in_window
    having count(panel.productivity_index) >= parameters.min_months_in_window
),

-- the pool's spread of each matching covariate at the start month (Mahalanobis-diagonal
-- scales of the matching distance), in exact arithmetic so no run differs in the last bit
with_scales as (
    select
        candidate_baselines.*,
        {%- for column in ['early_pre_mean_index', 'late_pre_mean_index', 'baseline_manager_rating', 'tenure_years'] %}
        sqrt(greatest(
            cast(avg(cast({{ column }} * {{ column }} as decimal(38, 12))) over (partition by start_month) as double)
            - cast(avg(cast({{ column }} as decimal(38, 12))) over (partition by start_month) as double)
              * cast(avg(cast({{ column }} as decimal(38, 12))) over (partition by start_month) as double),
            0)) as scale_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from candidate_baselines
)

select * from with_scales
