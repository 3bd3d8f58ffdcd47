-- One row per enrollment: status kept apart (completion is not success), exit,
-- credential, cohort, the impact windows and the baseline as of the start month.
with enrollments as (
    select * from {{ ref('stg_lms__enrollments') }}
),

programs as (
    select * from {{ ref('stg_lms__programs') }}
),

credentials as (
    select * from {{ ref('stg_lms__credentials') }}
),

panel as (
    select * from {{ ref('int_employee_history__monthly_panel') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

enrollments_dated as (
    select
        enrollments.*,
        coalesce(enrollments.started_at, enrollments.enrolled_at) as started_on,
        row_number() over (
            partition by enrollments.worker_id, enrollments.program_id
            order by enrollments.attempt nulls last, enrollments.enrolled_at nulls last, enrollments.enrollment_id nulls last
        ) = 1 as is_first_attempt
    from enrollments
),

-- exit: the status date for an ended enrollment; an open one exits when its
-- program window closes (docs/measurement.md: whichever comes first)
enrollments_with_exit as (
    select
        enrollments_dated.*,
        programs.method,
        programs.program_type as catalogue_program_type,
        programs.target_job_family,
        programs.planned_hours,
        programs.window_days,
        programs.move_on_rule,
        programs.waived_counts_as_completed,
        programs.credential_offered,
        programs.mastery_score,
        {{ add_to_date('day', 'programs.window_days', 'enrollments_dated.started_on') }} as window_closes_on,
        enrollments_dated.status in ('completed', 'passed', 'failed', 'waived', 'withdrawn') as has_exit_status
    from enrollments_dated
    left join programs
        on enrollments_dated.program_id = programs.program_id
),

exits as (
    select
        enrollments_with_exit.*,
        case
            when has_exit_status then completion_date
            when window_closes_on <= data_window.data_end_date then window_closes_on
        end as exit_date,
        case
            when has_exit_status then status
            when window_closes_on <= data_window.data_end_date then 'window_closed'
        end as exit_reason,
        window_closes_on <= data_window.data_end_date as is_window_closed,
        data_window.data_end_date
    from enrollments_with_exit
    cross join data_window
),

credentials_earned as (
    select
        exits.enrollment_id,
        credentials.credential_id,
        credentials.credential_name,
        credentials.issued_on,
        credentials.expires_on
    from exits
    cross join parameters
    inner join credentials
        on exits.worker_id = credentials.worker_id
        and (
            credentials.program_id = exits.program_id
            or (credentials.program_id is null and credentials.credential_name = exits.credential_offered)
        )
        and credentials.issued_on >= exits.started_on
        and (
            exits.exit_date is null
            or credentials.issued_on <= {{ add_to_date('day', 'parameters.certification_days', 'exits.exit_date') }}
        )
    qualify row_number() over (partition by exits.enrollment_id order by credentials.issued_on nulls last, credentials.credential_id nulls last) = 1
),

windows as (
    select
        exits.*,
        {{ month_of('exits.started_on') }} as start_month,
        -- YYYY-MM, the form finance uses for cost_lines.cohort
        substring(cast({{ month_of('exits.started_on') }} as {{ dbt.type_string() }}), 1, 7) as cohort_month,
        {{ month_of('exits.exit_date') }} as exit_month,
        {{ add_to_date('month', '-parameters.pre_months', month_of('exits.started_on')) }} as pre_window_start_month,
        {{ add_to_date('month', -1, month_of('exits.started_on')) }} as pre_window_end_month,
        {{ add_to_date('month', 'parameters.post_start_months', month_of('exits.exit_date')) }} as post_window_start_month,
        {{ add_to_date('month', 'parameters.post_end_months', month_of('exits.exit_date')) }} as post_window_end_month,
        parameters.min_months_in_window
    from exits
    cross join parameters
),

baseline_productivity as (
    select
        windows.enrollment_id,
        {{ exact_avg('panel.productivity_index') }} as baseline_productivity_index,
        count(panel.productivity_index) as baseline_productivity_months,
        {{ exact_avg('panel.manager_rating') }} as baseline_manager_rating,
        -- the two pre-period lags (macros/impact.sql)
        {{ exact_avg(early_pre_case('panel', 'windows')) }} as early_pre_mean_index,
        {{ exact_avg(late_pre_case('panel', 'windows')) }} as late_pre_mean_index
    from windows
    cross join parameters
    inner join panel
        on windows.worker_id = panel.worker_id
        and panel.period between windows.pre_window_start_month and windows.pre_window_end_month
    group by windows.enrollment_id
),

learning_history as (
    select
        -- ids
        windows.enrollment_id,
        windows.worker_id,
        windows.program_id,
        windows.program_id || ':' || windows.cohort_month as cohort,
        windows.cohort_month,

        -- program
        coalesce(
            windows.catalogue_program_type,
            -- the catalogue does not say: reskilling when the target is another job family
            case
                when windows.target_job_family is null or windows.target_job_family = start_panel.job_family
                    then 'upskilling'
                else 'reskilling'
            end
        ) as program_type,
        windows.catalogue_program_type is null as is_program_type_derived,
        windows.method,
        windows.target_job_family,
        windows.move_on_rule,
        windows.window_days,
        windows.planned_hours,

        -- enrollment and status (completion and success kept apart)
        windows.attempt,
        windows.is_first_attempt,
        windows.assignment_type,
        windows.status,
        windows.waiver_reason,
        windows.status in ('completed', 'passed')
            or (windows.status = 'waived' and windows.waived_counts_as_completed) as counts_as_completed,
        windows.status = 'passed' as is_passed,
        windows.status = 'failed' as is_failed,
        windows.status = 'waived' as is_waived,
        windows.status = 'withdrawn' as is_withdrawn,
        windows.status in ('not_started', 'in_progress') as is_open,
        -- completion and success apart (SCORM 2004 / cmi5): a failed learner completed the content
        case
            when windows.status in ('completed', 'passed', 'failed') then 'completed'
            when windows.status = 'waived' then 'waived'
            when windows.status = 'not_started' then 'not_attempted'
            when windows.status in ('in_progress', 'withdrawn') then 'incomplete'
            else 'unknown'
        end as completion_status,
        case
            when windows.status = 'passed' then 'passed'
            when windows.status = 'failed' then 'failed'
            else 'unknown'
        end as success_status,
        windows.score,
        windows.mastery_score,
        windows.hours_spent,

        -- dates
        windows.enrolled_at,
        windows.started_on,
        windows.start_month,
        windows.window_closes_on,
        windows.is_window_closed,
        windows.exit_date,
        windows.exit_reason,
        windows.exit_month,

        -- credential during the program or within certification_days of exit
        credentials_earned.credential_id is not null as has_credential,
        credentials_earned.credential_id,
        credentials_earned.credential_name,
        credentials_earned.issued_on as credential_issued_on,
        credentials_earned.expires_on as credential_expires_on,

        -- impact population: first attempts that ended as program completers (docs/methods.md)
        windows.is_first_attempt
            and windows.status in ('completed', 'passed')
            and windows.exit_date is not null as is_treated,

        -- impact windows (calendar months, inclusive)
        windows.pre_window_start_month,
        windows.pre_window_end_month,
        windows.post_window_start_month,
        windows.post_window_end_month,

        -- baseline as of the start month
        coalesce(start_panel.is_employed, false) as is_employed_at_start,
        start_panel.department,
        start_panel.management_level,
        start_panel.job_family,
        start_panel.job_profile,
        start_panel.region,
        start_panel.tenure_years,
        start_panel.tenure_band,
        start_panel.employment_start_date,
        start_panel.base_pay,
        start_panel.pay_currency,
        start_panel.fte_pct,
        case
            when baseline_productivity.baseline_productivity_months >= windows.min_months_in_window
                then baseline_productivity.baseline_productivity_index
        end as baseline_productivity_index,
        coalesce(baseline_productivity.baseline_productivity_months, 0) as baseline_productivity_months,
        baseline_productivity.baseline_manager_rating,
        baseline_productivity.early_pre_mean_index,
        baseline_productivity.late_pre_mean_index
    from windows
    left join panel as start_panel
        on windows.worker_id = start_panel.worker_id
        and windows.start_month = start_panel.period
    left join baseline_productivity
        on windows.enrollment_id = baseline_productivity.enrollment_id
    left join credentials_earned
        on windows.enrollment_id = credentials_earned.enrollment_id
)

select * from learning_history
