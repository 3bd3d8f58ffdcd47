-- For each treated episode, the k candidates nearest on baseline productivity within the
-- exact cell (start month × department × management level × job family × tenure band),
-- with replacement; ties broken by worker id (docs/methods.md). Candidates are workers
-- not enrolled in any program by the start month (int_impact__candidate_baselines).
-- Exact cells are joined first, so the ranking window only sees a cell's candidates.
-- With matching.caliper_index_points set, candidates further away are dropped (a
-- participant with none left is not evaluated).
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

candidate_baselines as (
    select * from {{ ref('int_impact__candidate_baselines') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

treated_episodes as (
    select
        enrollment_id,
        worker_id,
        start_month,
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

cell_candidates as (
    select
        treated_episodes.enrollment_id,
        treated_episodes.worker_id,
        candidate_baselines.worker_id as control_worker_id,
        treated_episodes.start_month,
        treated_episodes.baseline_productivity_index,
        candidate_baselines.baseline_productivity_index as control_baseline_productivity_index,
        candidate_baselines.tenure_years as control_tenure_years,
        candidate_baselines.management_level as control_management_level,
        candidate_baselines.baseline_manager_rating as control_baseline_manager_rating,
        abs(candidate_baselines.baseline_productivity_index - treated_episodes.baseline_productivity_index)
            as baseline_distance
    from treated_episodes
    inner join candidate_baselines
        on treated_episodes.start_month = candidate_baselines.start_month
        and treated_episodes.department = candidate_baselines.department
        and treated_episodes.management_level = candidate_baselines.management_level
        and treated_episodes.job_family = candidate_baselines.job_family
        and treated_episodes.tenure_band = candidate_baselines.tenure_band
    -- a participant is never its own control
    where candidate_baselines.worker_id != treated_episodes.worker_id
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
        baseline_distance,
        control_tenure_years,
        control_management_level,
        control_baseline_manager_rating
    from ranked_candidates
    where match_rank <= controls_per_participant
)

select * from matched_controls
