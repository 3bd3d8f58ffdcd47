-- Productivity change of completers (docs/methods.md): the matched difference-in-
-- differences estimate (exp(mean(did)) - 1) × 100 with its 95% CI, and beside it the
-- naive pre/post change of the same participants, labelled as such. A DiD row whose
-- baseline balance or pre-trend check fails is flagged.
with episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

evaluated_people as (
    select
        coalesce(episode_outcomes.program_type, 'unknown') as program_type,
        coalesce(episode_outcomes.method, 'unknown') as method,
        person_outcomes.role,
        person_outcomes.measured_worker_id,
        person_outcomes.productivity_log_change is not null as has_productivity_change,
        person_outcomes.pre_mean_index,
        case when person_outcomes.role = 'participant' then episode_outcomes.productivity_did end as productivity_did,
        case when person_outcomes.role = 'participant' then episode_outcomes.productivity_log_change end
            as participant_log_change,
        case when person_outcomes.role = 'participant' then episode_outcomes.pretrend_did end as pretrend_did
    from person_outcomes
    inner join episode_outcomes
        on person_outcomes.enrollment_id = episode_outcomes.enrollment_id
    where episode_outcomes.productivity_did is not null
),

{% set aggregates %}
        count(distinct case when role = 'participant' then measured_worker_id end) as n_people,
        count(productivity_did) as n_episodes,
        count(distinct case when role = 'control' and has_productivity_change then measured_worker_id end)
            as n_comparison,
        avg(productivity_did) as mean_did,
        stddev_samp(productivity_did) as sd_did,
        avg(participant_log_change) as mean_naive,
        stddev_samp(participant_log_change) as sd_naive,
        avg(pretrend_did) as mean_pretrend,
        avg(case when role = 'participant' then pre_mean_index end) as treated_baseline_mean,
        var_samp(case when role = 'participant' then pre_mean_index end) as treated_baseline_variance,
        avg(case when role = 'control' and has_productivity_change then pre_mean_index end) as control_baseline_mean,
        var_samp(case when role = 'control' and has_productivity_change then pre_mean_index end)
            as control_baseline_variance
{% endset %}

sliced as (
    {{ kpi_sliced('evaluated_people', aggregates) }}
),

checks as (
    select
        sliced.*,
        (sliced.treated_baseline_mean - sliced.control_baseline_mean)
            / nullif(sqrt((sliced.treated_baseline_variance + sliced.control_baseline_variance) / 2.0), 0)
            as balance_smd,
        100.0 * (exp(sliced.mean_pretrend) - 1) as pretrend_pct,
        parameters.max_abs_smd,
        parameters.max_pretrend_pct
    from sliced
    cross join parameters
),

estimates as (
    select
        checks.*,
        cast('did_matched' as varchar) as estimation_method,
        checks.n_comparison as estimate_n_comparison,
        checks.mean_did as mean_log_change,
        checks.sd_did / sqrt(checks.n_episodes) as se_log_change,
        case
            when abs(checks.balance_smd) > checks.max_abs_smd and abs(checks.pretrend_pct) > checks.max_pretrend_pct
                then 'balance_and_pretrend'
            when abs(checks.balance_smd) > checks.max_abs_smd then 'balance'
            when abs(checks.pretrend_pct) > checks.max_pretrend_pct then 'pretrend'
        end as flag_reason
    from checks
    union all
    select
        checks.*,
        cast('naive_pre_post' as varchar) as estimation_method,
        cast(null as bigint) as estimate_n_comparison,
        checks.mean_naive as mean_log_change,
        checks.sd_naive / sqrt(checks.n_episodes) as se_log_change,
        cast(null as varchar) as flag_reason
    from checks
),

published as (
    select
        cast('productivity_change' as varchar) as kpi,
        estimates.slice_grain,
        estimates.program_type,
        estimates.method,
        cast('all' as varchar) as period,
        estimates.estimation_method,
        cast(4 as integer) as evaluation_level,
        cast('pct' as varchar) as unit,
        cast(null as double) as numerator,
        cast(null as double) as denominator,
        cast({{ unless_suppressed('estimates.n_episodes', 'estimates.n_people') }} as bigint) as n,
        {{ count_band('estimates.n_people') }} as n_band,
        cast({{ unless_suppressed('estimates.estimate_n_comparison', 'estimates.n_people') }} as bigint) as n_comparison,
        round(cast({{ unless_suppressed('100.0 * (exp(estimates.mean_log_change) - 1)', 'estimates.n_people') }} as double), 4)
            as estimate,
        round(cast({{ unless_suppressed(
            '100.0 * (exp(estimates.mean_log_change - ' ~ ci_z() ~ ' * estimates.se_log_change) - 1)',
            'estimates.n_people') }} as double), 4) as ci_low,
        round(cast({{ unless_suppressed(
            '100.0 * (exp(estimates.mean_log_change + ' ~ ci_z() ~ ' * estimates.se_log_change) - 1)',
            'estimates.n_people') }} as double), 4) as ci_high,
        round(cast({{ unless_suppressed('estimates.mean_log_change', 'estimates.n_people') }} as double), 4) as mean_log_change,
        round(cast({{ unless_suppressed('estimates.se_log_change', 'estimates.n_people') }} as double), 4) as se_log_change,
        round(cast({{ unless_suppressed("case when estimates.estimation_method = 'did_matched' then estimates.pretrend_pct end",
            'estimates.n_people') }} as double), 4) as pretrend_pct,
        round(cast({{ unless_suppressed("case when estimates.estimation_method = 'did_matched' then estimates.balance_smd end",
            'estimates.n_people') }} as double), 4) as balance_smd,
        estimates.flag_reason is not null as is_flagged,
        estimates.flag_reason,
        parameters.definition_version,
        estimates.n_people < parameters.min_cell_size as suppressed
    from estimates
    cross join parameters
)

select * from published
