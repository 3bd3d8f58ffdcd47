-- One row per treated episode × person measured for it: the participant and each of
-- its matched controls, all measured over the participant's own calendar windows.
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

matched_controls as (
    select * from {{ ref('int_impact__matched_controls') }}
),

panel as (
    select * from {{ ref('int_employee_history__monthly_panel') }}
),

spells as (
    select * from {{ ref('int_employee_history__spells') }}
),

internal_moves as (
    select * from {{ ref('int_internal_moves') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

-- only episodes that found controls are evaluated (the DiD needs a comparison)
matched_episodes as (
    select
        learning_history.enrollment_id,
        learning_history.worker_id,
        learning_history.start_month,
        learning_history.exit_date,
        learning_history.exit_month,
        learning_history.pre_window_start_month,
        learning_history.pre_window_end_month,
        learning_history.post_window_start_month,
        learning_history.post_window_end_month,
        learning_history.target_job_family,
        {{ add_to_date('month', 'parameters.mobility_months', 'learning_history.exit_date') }} as mobility_window_end,
        {{ add_to_date('month', 'parameters.retention_months', 'learning_history.exit_date') }} as retention_date,
        -- pre-trend check: first half of the pre window against the second half
        {{ add_to_date('month', 'floor(parameters.pre_months / 2.0)', 'learning_history.pre_window_start_month') }}
            as late_pre_window_start_month,
        parameters.min_months_in_window
    from learning_history
    cross join parameters
    where learning_history.enrollment_id in (select enrollment_id from matched_controls)
),

measured_people as (
    select
        enrollment_id,
        worker_id as measured_worker_id,
        'participant' as role,
        cast(null as integer) as match_rank
    from matched_episodes
    union all
    select
        enrollment_id,
        control_worker_id as measured_worker_id,
        'control' as role,
        match_rank
    from matched_controls
),

people_windows as (
    select
        measured_people.*,
        matched_episodes.worker_id as participant_worker_id,
        matched_episodes.start_month,
        matched_episodes.exit_date,
        matched_episodes.pre_window_start_month,
        matched_episodes.pre_window_end_month,
        matched_episodes.late_pre_window_start_month,
        matched_episodes.post_window_start_month,
        matched_episodes.post_window_end_month,
        matched_episodes.target_job_family,
        matched_episodes.mobility_window_end,
        matched_episodes.retention_date,
        matched_episodes.min_months_in_window
    from measured_people
    inner join matched_episodes
        on measured_people.enrollment_id = matched_episodes.enrollment_id
),

productivity_windows as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        cast(avg(cast(case when panel.period <= people_windows.pre_window_end_month then panel.productivity_index end as decimal(38, 12))) as double)
            as pre_mean_index,
        count(case when panel.period <= people_windows.pre_window_end_month then panel.productivity_index end)
            as pre_months,
        cast(avg(cast(case when panel.period < people_windows.late_pre_window_start_month then panel.productivity_index end as decimal(38, 12))) as double)
            as early_pre_mean_index,
        cast(avg(cast(case
            when panel.period >= people_windows.late_pre_window_start_month
                and panel.period <= people_windows.pre_window_end_month
                then panel.productivity_index
        end as decimal(38, 12))) as double) as late_pre_mean_index,
        cast(avg(cast(case when panel.period >= people_windows.post_window_start_month then panel.productivity_index end as decimal(38, 12))) as double)
            as post_mean_index,
        count(case when panel.period >= people_windows.post_window_start_month then panel.productivity_index end)
            as post_months
    from people_windows
    inner join panel
        on people_windows.measured_worker_id = panel.worker_id
        and (
            panel.period between people_windows.pre_window_start_month and people_windows.pre_window_end_month
            or panel.period between people_windows.post_window_start_month and people_windows.post_window_end_month
        )
    group by 1, 2
),

employment_checks as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        max(case
            when spells.valid_from <= people_windows.exit_date and spells.valid_to >= people_windows.exit_date
                then 1 else 0
        end) = 1 as is_employed_at_exit,
        max(case
            when spells.valid_from <= people_windows.retention_date and spells.valid_to >= people_windows.retention_date
                then 1 else 0
        end) = 1 as is_employed_at_retention_date
    from people_windows
    inner join spells
        on people_windows.measured_worker_id = spells.worker_id
        and spells.employment_status = 'active'
    group by 1, 2
),

separations as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        max(case when spells.termination_category = 'voluntary' then 1 else 0 end) = 1 as has_voluntary_separation,
        max(case when spells.termination_category = 'involuntary' then 1 else 0 end) = 1 as has_involuntary_separation
    from people_windows
    inner join spells
        on people_windows.measured_worker_id = spells.worker_id
        and spells.termination_date > people_windows.exit_date
        and spells.termination_date <= people_windows.retention_date
    group by 1, 2
),

-- any internal move in the window, by definition variant (macros/impact.sql)
moves as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        {%- for variant in mobility_variants() %}
        max(case when {{ variant.move_condition }} then 1 else 0 end) = 1 as has_{{ variant.column }}_move
        {{- ',' if not loop.last }}
        {%- endfor %}
    from people_windows
    inner join internal_moves
        on people_windows.measured_worker_id = internal_moves.worker_id
        and internal_moves.move_date > people_windows.exit_date
        and internal_moves.move_date <= people_windows.mobility_window_end
    group by 1, 2
),

person_outcomes as (
    select
        {{ surrogate_key(['people_windows.enrollment_id', 'people_windows.measured_worker_id']) }} as person_outcome_id,
        people_windows.enrollment_id,
        people_windows.participant_worker_id,
        people_windows.measured_worker_id,
        people_windows.role,
        people_windows.match_rank,

        -- productivity (index means over the participant's calendar windows)
        productivity_windows.pre_mean_index,
        coalesce(productivity_windows.pre_months, 0) as pre_months,
        productivity_windows.post_mean_index,
        coalesce(productivity_windows.post_months, 0) as post_months,
        case
            when productivity_windows.pre_months >= people_windows.min_months_in_window
                and productivity_windows.post_months >= people_windows.min_months_in_window
                and productivity_windows.pre_mean_index > 0
                and productivity_windows.post_mean_index > 0
                then ln(productivity_windows.post_mean_index / productivity_windows.pre_mean_index)
        end as productivity_log_change,
        case
            when productivity_windows.early_pre_mean_index > 0 and productivity_windows.late_pre_mean_index > 0
                then ln(productivity_windows.late_pre_mean_index / productivity_windows.early_pre_mean_index)
        end as pretrend_log_change,

        -- mobility and retention (evaluated once the window has fully passed)
        people_windows.mobility_window_end <= data_window.data_end_date as is_mobility_evaluable,
        people_windows.retention_date <= data_window.data_end_date as is_retention_evaluable,
        coalesce(employment_checks.is_employed_at_exit, false) as is_employed_at_exit,
        {%- for variant in mobility_variants() %}
        coalesce(moves.has_{{ variant.column }}_move, false) as has_{{ variant.column }}_move,
        {%- endfor %}
        coalesce(employment_checks.is_employed_at_retention_date, false) as is_retained,
        coalesce(separations.has_voluntary_separation, false) as has_voluntary_separation,
        coalesce(separations.has_involuntary_separation, false) as has_involuntary_separation
    from people_windows
    cross join data_window
    left join productivity_windows
        on people_windows.enrollment_id = productivity_windows.enrollment_id
        and people_windows.measured_worker_id = productivity_windows.measured_worker_id
    left join employment_checks
        on people_windows.enrollment_id = employment_checks.enrollment_id
        and people_windows.measured_worker_id = employment_checks.measured_worker_id
    left join separations
        on people_windows.enrollment_id = separations.enrollment_id
        and people_windows.measured_worker_id = separations.measured_worker_id
    left join moves
        on people_windows.enrollment_id = moves.enrollment_id
        and people_windows.measured_worker_id = moves.measured_worker_id
)

select * from person_outcomes
