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

funnel as (
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
        case
            when learning_history.post_window_end_month > {{ month_of('data_window.data_end_date') }}
                then 'not_yet_evaluable'
            when not learning_history.is_employed_at_start then 'not_employed_at_start'
            when learning_history.baseline_productivity_index is null then 'no_baseline'
            when matched.enrollment_id is null then 'unmatched'
            when episode_outcomes.productivity_did is not null then null
            when episode_outcomes.productivity_change is null then coalesce(episode_outcomes.productivity_missing_reason, 'outcome_missing')
            else 'controls_not_measurable'
        end as productivity_exclusion,
        case
            when {{ add_to_date('month', 'parameters.mobility_months', 'learning_history.exit_date') }}
                > data_window.data_end_date then 'not_yet_evaluable'
            when not learning_history.is_employed_at_start then 'not_employed_at_start'
            when learning_history.baseline_productivity_index is null then 'no_baseline'
            when matched.enrollment_id is null then 'unmatched'
            when not episode_outcomes.is_mobility_evaluated then 'controls_not_measurable'
        end as mobility_exclusion,
        case
            when {{ add_to_date('month', 'parameters.retention_months', 'learning_history.exit_date') }}
                > data_window.data_end_date then 'not_yet_evaluable'
            when not learning_history.is_employed_at_start then 'not_employed_at_start'
            when learning_history.baseline_productivity_index is null then 'no_baseline'
            when matched.enrollment_id is null then 'unmatched'
            when not episode_outcomes.is_retention_evaluated then 'controls_not_measurable'
        end as retention_exclusion
    from learning_history
    left join matched
        on learning_history.enrollment_id = matched.enrollment_id
    left join episode_outcomes
        on learning_history.enrollment_id = episode_outcomes.enrollment_id
    cross join data_window
    cross join parameters
    where learning_history.is_treated
)

select * from funnel
