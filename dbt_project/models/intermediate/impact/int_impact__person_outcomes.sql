-- One row per treated episode × person measured for it: the participant and each of
-- its matched controls, all measured over the participant's own calendar windows.
-- Outcomes are levels (index points; 0/1 for events): zero outputs are data (D69).
-- A control is censored at its own first enrolment (D68): its productivity months from
-- that month on are not used, and for mobility and retention its follow-up ends at the
-- interval of that enrolment (censor_offset), which the marts' Kaplan-Meier handles.
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
        {{ late_pre_start('learning_history') }} as late_pre_window_start_month,
        parameters.min_months_in_window,
        parameters.min_pretrend_months,
        greatest(parameters.mobility_months, parameters.retention_months) as follow_up_months
    from learning_history
    cross join parameters
    where learning_history.enrollment_id in (select enrollment_id from matched_controls)
),

measured_people as (
    select
        enrollment_id,
        worker_id as measured_worker_id,
        'participant' as role,
        cast(null as integer) as match_rank,
        cast(1.0 as double) as match_weight,
        cast(null as date) as own_enrolled_on
    from matched_episodes
    union all
    select
        enrollment_id,
        control_worker_id as measured_worker_id,
        'control' as role,
        match_rank,
        match_weight,
        control_first_enrolled_on as own_enrolled_on
    from matched_controls
),

people_windows as (
    select
        measured_people.*,
        -- first month the person is no longer untreated (controls only)
        {{ month_of('measured_people.own_enrolled_on') }} as censor_month,
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
        matched_episodes.min_months_in_window,
        matched_episodes.min_pretrend_months,
        matched_episodes.follow_up_months
    from measured_people
    inner join matched_episodes
        on measured_people.enrollment_id = matched_episodes.enrollment_id
),

productivity_windows as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        {{ exact_avg('case when panel.period <= people_windows.pre_window_end_month then panel.productivity_index end') }}
            as pre_mean_index,
        count(case when panel.period <= people_windows.pre_window_end_month then panel.productivity_index end)
            as pre_months,
        {{ exact_avg('case when panel.period < people_windows.late_pre_window_start_month then panel.productivity_index end') }}
            as early_pre_mean_index,
        count(case when panel.period < people_windows.late_pre_window_start_month then panel.productivity_index end)
            as early_pre_months,
        {{ exact_avg('case when panel.period >= people_windows.late_pre_window_start_month
                and panel.period <= people_windows.pre_window_end_month then panel.productivity_index end') }}
            as late_pre_mean_index,
        count(case when panel.period >= people_windows.late_pre_window_start_month
                and panel.period <= people_windows.pre_window_end_month then panel.productivity_index end)
            as late_pre_months,
        {{ exact_avg('case when panel.period >= people_windows.post_window_start_month then panel.productivity_index end') }}
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
        -- censored at the own enrolment: no month that could carry a program effect of its own
        and (people_windows.censor_month is null or panel.period < people_windows.censor_month)
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

-- the first separation after the exit, within the retention window
separations as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        max(case when spells.termination_category = 'voluntary' then 1 else 0 end) = 1 as has_voluntary_separation,
        max(case when spells.termination_category = 'involuntary' then 1 else 0 end) = 1 as has_involuntary_separation,
        min(spells.termination_date) as first_separation_date,
        min(case when spells.termination_category = 'voluntary' then spells.termination_date end)
            as first_voluntary_separation_date,
        min(case when spells.termination_category = 'involuntary' then spells.termination_date end)
            as first_involuntary_separation_date
    from people_windows
    inner join spells
        on people_windows.measured_worker_id = spells.worker_id
        and spells.termination_date > people_windows.exit_date
        and spells.termination_date <= people_windows.retention_date
    group by 1, 2
),

-- the first internal move in the window, by definition variant (macros/impact.sql)
moves as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        {%- for variant in mobility_variants() %}
        min(case when {{ variant.move_condition }} then internal_moves.move_date end)
            as first_{{ variant.column }}_move_date
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
        people_windows.match_weight,
        people_windows.own_enrolled_on,

        -- productivity (index means over the participant's calendar windows, in levels)
        productivity_windows.pre_mean_index,
        coalesce(productivity_windows.pre_months, 0) as pre_months,
        productivity_windows.post_mean_index,
        coalesce(productivity_windows.post_months, 0) as post_months,
        case
            when productivity_windows.pre_months >= people_windows.min_months_in_window
                and productivity_windows.post_months >= people_windows.min_months_in_window
                then productivity_windows.post_mean_index - productivity_windows.pre_mean_index
        end as productivity_change,
        -- productivity not measurable: why (the exclusion funnel)
        case
            when coalesce(productivity_windows.pre_months, 0) < people_windows.min_months_in_window
                then 'pre_window_months'
            when people_windows.censor_month is not null
                and people_windows.censor_month <= people_windows.post_window_end_month
                and coalesce(productivity_windows.post_months, 0) < people_windows.min_months_in_window
                then 'censored_own_enrolment'
            when coalesce(productivity_windows.post_months, 0) < people_windows.min_months_in_window
                then 'post_window_months'
        end as productivity_missing_reason,
        productivity_windows.early_pre_mean_index,
        productivity_windows.late_pre_mean_index,
        case
            when productivity_windows.early_pre_months >= people_windows.min_pretrend_months
                and productivity_windows.late_pre_months >= people_windows.min_pretrend_months
                then productivity_windows.late_pre_mean_index - productivity_windows.early_pre_mean_index
        end as pretrend_change,

        -- mobility and retention (evaluated once the window has fully passed)
        people_windows.mobility_window_end <= data_window.data_end_date as is_mobility_evaluable,
        people_windows.retention_date <= data_window.data_end_date as is_retention_evaluable,
        coalesce(employment_checks.is_employed_at_exit, false) as is_employed_at_exit,
        {%- for variant in mobility_variants() %}
        moves.first_{{ variant.column }}_move_date is not null as has_{{ variant.column }}_move,
        {%- endfor %}
        coalesce(employment_checks.is_employed_at_retention_date, false) as is_retained,
        coalesce(separations.has_voluntary_separation, false) as has_voluntary_separation,
        coalesce(separations.has_involuntary_separation, false) as has_involuntary_separation,

        -- follow-up in months after the exit (interval m = (exit + m-1 months, exit + m months]):
        -- the interval of the first event, and for a control enrolled after the exit the
        -- interval of its own enrolment; 0 = enrolled by the exit (never at risk)
        case
            when people_windows.own_enrolled_on is null then null
            when people_windows.own_enrolled_on <= people_windows.exit_date then 0
            when people_windows.own_enrolled_on
                > {{ add_to_date('month', 'people_windows.follow_up_months', 'people_windows.exit_date') }} then null
            else {{ month_offset('people_windows.exit_date', 'people_windows.own_enrolled_on', 'people_windows.follow_up_months') }}
        end as censor_offset,
        {%- for variant in mobility_variants() %}
        {{ month_offset('people_windows.exit_date', 'moves.first_' ~ variant.column ~ '_move_date', 'people_windows.follow_up_months') }}
            as {{ variant.column }}_offset,
        {%- endfor %}
        {{ month_offset('people_windows.exit_date', 'separations.first_separation_date', 'people_windows.follow_up_months') }}
            as separation_offset,
        {{ month_offset('people_windows.exit_date', 'separations.first_voluntary_separation_date', 'people_windows.follow_up_months') }}
            as voluntary_separation_offset,
        {{ month_offset('people_windows.exit_date', 'separations.first_involuntary_separation_date', 'people_windows.follow_up_months') }}
            as involuntary_separation_offset,
        {%- for variant in mobility_variants() %}
        moves.first_{{ variant.column }}_move_date < people_windows.own_enrolled_on as {{ variant.column }}_before_censoring,
        {%- endfor %}
        separations.first_separation_date < people_windows.own_enrolled_on as separation_before_censoring
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
