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

{#- frame offsets are literals (a window frame takes constants); the compiled SQL, and so the
    reuse fingerprint, changes with the parameter #}
{%- set pre_months = param('windows.pre_months', optional=true) or 1 %}
{%- set early_months = (pre_months / 2) | int %}

-- every worker-month's calendar pre window, as if a program started that month: one pass over
-- the panel in (worker, month) order instead of joining each candidate to its pre-window months
-- (start months × pool × pre_months rows). Frames count months, not rows (D123).
panel_months as (
    select
        panel.*,
        cast(extract(year from panel.period) as integer) * 12 + cast(extract(month from panel.period) as integer)
            as month_number
    from panel
),

pre_windows as (
    select
        worker_id,
        period,
        count(*) over pre_window as pre_window_rows,
        {{ exact_avg_over('productivity_index', 'pre_window') }} as baseline_productivity_index,
        count(productivity_index) over pre_window as baseline_productivity_months,
        {{ exact_avg_over('manager_rating', 'pre_window') }} as baseline_manager_rating,
        {%- if early_months > 0 %}
        {{ exact_avg_over('productivity_index', 'early_pre_window') }} as early_pre_mean_index,
        {%- else %}
        cast(null as double) as early_pre_mean_index,
        {%- endif %}
        {{ exact_avg_over('productivity_index', 'late_pre_window') }} as late_pre_mean_index
    from panel_months
    window
        pre_window as (partition by worker_id order by month_number nulls last
            range between {{ pre_months }} preceding and 1 preceding),
        early_pre_window as (partition by worker_id order by month_number nulls last
            range between {{ pre_months }} preceding and {{ pre_months - early_months + 1 }} preceding),
        late_pre_window as (partition by worker_id order by month_number nulls last
            range between {{ pre_months - early_months }} preceding and 1 preceding)
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
        pre_windows.baseline_productivity_index,
        pre_windows.baseline_productivity_months,
        pre_windows.baseline_manager_rating,
        pre_windows.early_pre_mean_index,
        pre_windows.late_pre_mean_index
    from candidates_at_start
    inner join pre_windows
        on candidates_at_start.worker_id = pre_windows.worker_id
        and candidates_at_start.start_month = pre_windows.period
    cross join parameters
    where pre_windows.pre_window_rows > 0
      and pre_windows.baseline_productivity_months >= parameters.min_months_in_window
),

-- the pool's spread of each matching covariate at the start month (Mahalanobis-diagonal
-- scales of the matching distance), in exact arithmetic so no run differs in the last bit
-- (macros/exact.sql exact_avg_over; a window spec in parentheses stands for the window name)
with_scales as (
    select
        candidate_baselines.*,
        {%- for column in ['early_pre_mean_index', 'late_pre_mean_index', 'baseline_manager_rating', 'tenure_years'] %}
        sqrt(greatest(
            {{ exact_avg_over(column ~ ' * ' ~ column, '(partition by start_month)') }}
            - {{ exact_avg_over(column, '(partition by start_month)') }}
              * {{ exact_avg_over(column, '(partition by start_month)') }},
            0)) as scale_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from candidate_baselines
)

select * from with_scales
