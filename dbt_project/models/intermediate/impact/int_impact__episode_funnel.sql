-- The exclusion funnel (docs/methods.md): every treated episode (a first attempt that ended
-- as a program completer) with the stage at which it leaves each impact estimate, so every
-- impact row can say how many participants it rests on and why the others are not in it.
-- Stages: not employed at the start month, no baseline (too few measured pre-window
-- months), unmatched (no candidate in the cell within the caliper), and per KPI: outcome
-- not measurable (productivity: too few post-window months; every control censored), or
-- not yet evaluable (the mobility / retention window has not passed).
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

matched as (
    select distinct enrollment_id from {{ ref('int_impact__matched_controls') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

stages as (
    select
        learning_history.enrollment_id,
        learning_history.worker_id,
        learning_history.program_id,
        learning_history.program_type,
        learning_history.method,
        learning_history.cohort,
        learning_history.department,
        learning_history.region,
        learning_history.exit_date,
        case
            when not learning_history.is_employed_at_start then 'not_employed_at_start'
            when learning_history.baseline_productivity_index is null then 'no_baseline'
            when matched.enrollment_id is null then 'unmatched'
        end as matching_exclusion,
        -- per estimate: not yet evaluable first (not an exclusion), then the matching stage, then the outcome
        case
            when learning_history.post_window_end_month > {{ month_of('data_window.data_end_date') }}
                then 'not_yet_evaluable'
            when episode_outcomes.productivity_did is not null then null
        end as productivity_stage,
        case
            when episode_outcomes.productivity_change is null
                then coalesce(episode_outcomes.productivity_missing_reason, 'outcome_missing')
            else 'controls_not_measurable'
        end as productivity_outcome_exclusion,
        case
            when {{ add_to_date('month', 'parameters.mobility_months', 'learning_history.exit_date') }}
                > data_window.data_end_date then 'not_yet_evaluable'
        end as mobility_stage,
        case
            when {{ add_to_date('month', 'parameters.retention_months', 'learning_history.exit_date') }}
                > data_window.data_end_date then 'not_yet_evaluable'
        end as retention_stage,
        coalesce(episode_outcomes.is_mobility_evaluated, false) as is_mobility_evaluated,
        coalesce(episode_outcomes.is_retention_evaluated, false) as is_retention_evaluated,
        episode_outcomes.productivity_did is not null as has_productivity_did
    from learning_history
    left join matched
        on learning_history.enrollment_id = matched.enrollment_id
    left join episode_outcomes
        on learning_history.enrollment_id = episode_outcomes.enrollment_id
    cross join data_window
    cross join parameters
    where learning_history.is_treated
),

funnel as (
    select
        enrollment_id, worker_id, program_id, program_type, method, cohort, department, region, exit_date,
        matching_exclusion,
        case
            when productivity_stage = 'not_yet_evaluable' then productivity_stage
            when matching_exclusion is not null then matching_exclusion
            when not has_productivity_did then productivity_outcome_exclusion
        end as productivity_exclusion,
        coalesce(mobility_stage, matching_exclusion,
            case when not is_mobility_evaluated then 'controls_not_measurable' end) as mobility_exclusion,
        coalesce(retention_stage, matching_exclusion,
            case when not is_retention_evaluated then 'controls_not_measurable' end) as retention_exclusion
    from stages
)

select * from funnel
