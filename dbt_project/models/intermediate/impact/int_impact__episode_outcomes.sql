-- One row per matched treated episode: the participant's outcomes beside the mean
-- over its controls, and their differences (the per-episode terms of docs/methods.md).
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

participants as (
    select * from person_outcomes where role = 'participant'
),

control_means as (
    select
        enrollment_id,
        count(*) as n_controls_matched,
        -- productivity: controls with both windows measured
        count(productivity_log_change) as n_controls_productivity,
        {{ exact_avg('productivity_log_change') }} as control_productivity_log_change,
        {{ exact_avg('pre_mean_index') }} as control_pre_mean_index,
        count(pretrend_log_change) as n_controls_pretrend,
        {{ exact_avg('pretrend_log_change') }} as control_pretrend_log_change,
        -- mobility and retention: controls still employed at the participant's exit
        sum(case when is_employed_at_exit then 1 else 0 end) as n_controls_employed_at_exit,
        {%- for variant in mobility_variants() %}
        avg(case when is_employed_at_exit then cast(has_{{ variant.column }}_move as integer) end)
            as control_{{ variant.column }}_rate,
        {%- endfor %}
        avg(case when is_employed_at_exit then cast(is_retained as integer) end) as control_retention_rate,
        avg(case when is_employed_at_exit then cast(has_voluntary_separation as integer) end)
            as control_voluntary_separation_rate,
        avg(case when is_employed_at_exit then cast(has_involuntary_separation as integer) end)
            as control_involuntary_separation_rate
    from person_outcomes
    where role = 'control'
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

        -- productivity: d = ln(post mean / pre mean); did = d - mean(d over controls)
        participants.pre_mean_index,
        participants.post_mean_index,
        participants.productivity_log_change,
        control_means.n_controls_productivity,
        control_means.control_pre_mean_index,
        control_means.control_productivity_log_change,
        case when control_means.n_controls_productivity > 0
            then participants.productivity_log_change - control_means.control_productivity_log_change
        end as productivity_did,
        participants.pretrend_log_change,
        case when control_means.n_controls_pretrend > 0
            then participants.pretrend_log_change - control_means.control_pretrend_log_change
        end as pretrend_did,

        -- mobility and retention: y - mean(y over controls employed at exit)
        participants.is_mobility_evaluable and control_means.n_controls_employed_at_exit > 0
            as is_mobility_evaluated,
        participants.is_retention_evaluable and control_means.n_controls_employed_at_exit > 0
            as is_retention_evaluated,
        control_means.n_controls_employed_at_exit,
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
