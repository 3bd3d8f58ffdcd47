-- For each treated episode, the k never-participants nearest on baseline productivity
-- within the exact cell (start month × department × management level × job family ×
-- tenure band), with replacement; ties broken by worker id (docs/methods.md).
-- Exact cells are joined first, so the ranking window only sees a cell's candidates.
-- With matching.caliper_index_points set, candidates further away are dropped (a
-- participant with none left is not evaluated).
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

treated_episodes as (
    select
        enrollment_id,
        worker_id,
        start_month,
        pre_window_start_month,
        pre_window_end_month,
        department,
        management_level,
        job_family,
        tenure_band,
        baseline_productivity_index
    from learning_history
    where is_treated
      and is_employed_at_start
      and baseline_productivity_index is not null
),

start_months as (
    select distinct
        start_month,
        pre_window_start_month,
        pre_window_end_month
    from treated_episodes
),

ever_enrolled_workers as (
    select distinct worker_id from enrollments
),

never_participant_panel as (
    select panel.*
    from panel
    left join ever_enrolled_workers
        on panel.worker_id = ever_enrolled_workers.worker_id
    where ever_enrolled_workers.worker_id is null
),

candidates_at_start as (
    select
        start_months.start_month,
        start_months.pre_window_start_month,
        start_months.pre_window_end_month,
        never_participant_panel.worker_id,
        never_participant_panel.department,
        never_participant_panel.management_level,
        never_participant_panel.job_family,
        never_participant_panel.tenure_band
    from start_months
    inner join never_participant_panel
        on never_participant_panel.period = start_months.start_month
    where never_participant_panel.is_employed
),

candidate_baselines as (
    select
        candidates_at_start.start_month,
        candidates_at_start.worker_id,
        candidates_at_start.department,
        candidates_at_start.management_level,
        candidates_at_start.job_family,
        candidates_at_start.tenure_band,
        avg(never_participant_panel.productivity_index) as baseline_productivity_index,
        count(never_participant_panel.productivity_index) as baseline_productivity_months
    from candidates_at_start
    inner join never_participant_panel
        on candidates_at_start.worker_id = never_participant_panel.worker_id
        and never_participant_panel.period between candidates_at_start.pre_window_start_month
            and candidates_at_start.pre_window_end_month
    cross join parameters
    group by 1, 2, 3, 4, 5, 6, parameters.min_months_in_window
    having count(never_participant_panel.productivity_index) >= parameters.min_months_in_window
),

cell_candidates as (
    select
        treated_episodes.enrollment_id,
        treated_episodes.worker_id,
        candidate_baselines.worker_id as control_worker_id,
        treated_episodes.start_month,
        treated_episodes.baseline_productivity_index,
        candidate_baselines.baseline_productivity_index as control_baseline_productivity_index,
        abs(candidate_baselines.baseline_productivity_index - treated_episodes.baseline_productivity_index)
            as baseline_distance
    from treated_episodes
    inner join candidate_baselines
        on treated_episodes.start_month = candidate_baselines.start_month
        and treated_episodes.department = candidate_baselines.department
        and treated_episodes.management_level = candidate_baselines.management_level
        and treated_episodes.job_family = candidate_baselines.job_family
        and treated_episodes.tenure_band = candidate_baselines.tenure_band
),

ranked_candidates as (
    select
        cell_candidates.*,
        row_number() over (
            partition by cell_candidates.enrollment_id
            order by cell_candidates.baseline_distance, cell_candidates.control_worker_id
        ) as match_rank,
        parameters.controls_per_participant
    from cell_candidates
    cross join parameters
    -- optional caliper: a candidate further than this from the participant's baseline is no match
    where parameters.caliper_index_points is null
       or cell_candidates.baseline_distance <= parameters.caliper_index_points
),

matched_controls as (
    select
        {{ surrogate_key(['enrollment_id', 'control_worker_id']) }} as match_id,
        enrollment_id,
        worker_id,
        control_worker_id,
        match_rank,
        start_month,
        baseline_productivity_index,
        control_baseline_productivity_index,
        baseline_distance
    from ranked_candidates
    where match_rank <= controls_per_participant
)

select * from matched_controls
