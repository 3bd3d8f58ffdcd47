-- One row per matched treated episode: the participant's outcomes beside the weighted mean
-- over its controls (match_weight; ties share weight), and their differences in levels
-- (the per-episode terms of docs/methods.md). Controls without a measurable productivity
-- change (too few months, or censored at their own enrolment) drop out of that mean and
-- the remaining controls' weights are renormalised. The per-episode control rates of
-- mobility and retention are descriptive (controls followed through the whole window);
-- the published rate differences use the censoring-aware Kaplan-Meier of the marts.
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

participants as (
    select * from person_outcomes where role = 'participant'
),

controls as (
    select
        *,
        is_employed_at_exit and (censor_offset is null) as is_followed_through
    from person_outcomes
    where role = 'control'
),

control_means as (
    select
        enrollment_id,
        count(*) as n_controls_matched,
        -- productivity: controls with both windows measured
        count(productivity_change) as n_controls_productivity,
        {{ exact_sum('case when productivity_change is not null then match_weight * productivity_change end') }}
            / nullif({{ exact_sum('case when productivity_change is not null then match_weight end') }}, 0)
            as control_productivity_change,
        {{ exact_sum('case when productivity_change is not null then match_weight * pre_mean_index end') }}
            / nullif({{ exact_sum('case when productivity_change is not null then match_weight end') }}, 0)
            as control_pre_mean_index,
        count(pretrend_change) as n_controls_pretrend,
        {{ exact_sum('case when pretrend_change is not null then match_weight * pretrend_change end') }}
            / nullif({{ exact_sum('case when pretrend_change is not null then match_weight end') }}, 0)
            as control_pretrend_change,
        -- mobility and retention: controls still employed at the participant's exit
        sum(case when is_employed_at_exit then 1 else 0 end) as n_controls_employed_at_exit,
        sum(case when is_employed_at_exit and censor_offset is not null then 1 else 0 end) as n_controls_censored,
        {%- for variant in mobility_variants() %}
        sum(case when is_followed_through then match_weight * cast(has_{{ variant.column }}_move as integer) end)
            / nullif(sum(case when is_followed_through then match_weight end), 0) as control_{{ variant.column }}_rate,
        {%- endfor %}
        sum(case when is_followed_through then match_weight * cast(is_retained as integer) end)
            / nullif(sum(case when is_followed_through then match_weight end), 0) as control_retention_rate,
        sum(case when is_followed_through then match_weight * cast(has_voluntary_separation as integer) end)
            / nullif(sum(case when is_followed_through then match_weight end), 0) as control_voluntary_separation_rate,
        sum(case when is_followed_through then match_weight * cast(has_involuntary_separation as integer) end)
            / nullif(sum(case when is_followed_through then match_weight end), 0) as control_involuntary_separation_rate
    from controls
    group by enrollment_id
),

episode_outcomes as (
    select
        -- episode and its slices
        learning_history.enrollment_id,
        learning_history.worker_id,
        learning_history.program_id,
        learning_history.program_type,
        learning_history.method,
        learning_history.cohort,
        learning_history.department,
        learning_history.region,
        learning_history.target_job_family,
        learning_history.start_month,
        learning_history.exit_date,
        learning_history.window_days,
        learning_history.fte_pct,
        learning_history.base_pay,
        control_means.n_controls_matched,

        -- productivity in index points: did = (post - pre) - weighted mean over controls
        participants.pre_mean_index,
        participants.post_mean_index,
        participants.productivity_change,
        participants.productivity_missing_reason,
        control_means.n_controls_productivity,
        control_means.control_pre_mean_index,
        control_means.control_productivity_change,
        case when control_means.n_controls_productivity > 0
            then participants.productivity_change - control_means.control_productivity_change
        end as productivity_did,
        -- what the participant's post mean would have been without the program
        case when control_means.n_controls_productivity > 0
            then participants.pre_mean_index + control_means.control_productivity_change
        end as counterfactual_post_mean_index,
        participants.pretrend_change,
        case when control_means.n_controls_pretrend > 0
            then participants.pretrend_change - control_means.control_pretrend_change
        end as pretrend_did,

        -- mobility and retention: y - weighted mean(y over controls followed through the window)
        participants.is_mobility_evaluable and control_means.n_controls_employed_at_exit > 0
            as is_mobility_evaluated,
        participants.is_retention_evaluable and control_means.n_controls_employed_at_exit > 0
            as is_retention_evaluated,
        control_means.n_controls_employed_at_exit,
        control_means.n_controls_censored,
        {%- for variant in mobility_variants() %}
        cast(participants.has_{{ variant.column }}_move as integer) as {{ variant.column }}_outcome,
        control_means.control_{{ variant.column }}_rate,
        cast(participants.has_{{ variant.column }}_move as integer) - control_means.control_{{ variant.column }}_rate
            as {{ variant.column }}_difference,
        {%- endfor %}
        cast(participants.is_retained as integer) as retention_outcome,
        control_means.control_retention_rate,
        cast(participants.is_retained as integer) - control_means.control_retention_rate as retention_difference,
        cast(participants.has_voluntary_separation as integer) as voluntary_separation_outcome,
        control_means.control_voluntary_separation_rate,
        cast(participants.has_voluntary_separation as integer) - control_means.control_voluntary_separation_rate
            as voluntary_separation_difference,
        cast(participants.has_involuntary_separation as integer) as involuntary_separation_outcome,
        control_means.control_involuntary_separation_rate,
        cast(participants.has_involuntary_separation as integer) - control_means.control_involuntary_separation_rate
            as involuntary_separation_difference
    from participants
    inner join control_means
        on participants.enrollment_id = control_means.enrollment_id
    inner join learning_history
        on participants.enrollment_id = learning_history.enrollment_id
)

select * from episode_outcomes
