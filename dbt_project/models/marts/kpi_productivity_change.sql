-- Productivity change of completers (docs/methods.md), in levels: the matched
-- difference-in-differences of the productivity index in index points (the primary
-- figure) with its 95% CI, and beside it the relative effect as a ratio of means
-- (effect / counterfactual post mean, delta-method CI). Zero outputs are data. Extreme
-- per-episode DiDs are winsorised at Tukey's fences (impact.winsorise_iqr_multiple) of their
-- program type and counted (n_winsorised); nothing is dropped. Two labelled naive
-- comparisons sit beside it: the participants' own before/after, and participants vs all
-- non-participants over the same months. Every row carries the exclusion funnel; a DiD
-- row of a slice that fails a credibility check or uses too few of its participants is
-- flagged, and the reason says which check and by how much.
{%- set grains = var('kpi_slice_grains', none) %}
{% set leading_ctes %}
with episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
),

funnel_rows as (
    select * from {{ ref('int_impact__episode_funnel') }}
),

nonparticipant_months as (
    select * from {{ ref('int_impact__nonparticipant_months') }}
),

learning_history as (
    select * from {{ ref('int_learning_history') }}
),

slice_checks as (
    select distinct {{ kpi_slice_key() }}, flag_reason
    from {{ ref('kpi_comparison_balance') }}
),

balance_checks as (
    select
        {{ kpi_slice_key() }},
        max(case when kpi = 'balance_smd' and covariate = 'baseline_productivity_index'
            and matching_stage = 'after_matching' then estimate end) as balance_smd,
        max(case when kpi = 'pretrend' then estimate end) as pretrend_points,
        max(case when kpi = 'pretrend' then pretrend_status end) as pretrend_status
    from {{ ref('kpi_comparison_balance') }}
    group by {{ kpi_slice_key() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

measured as (
    select *
    from episode_outcomes
    where productivity_did is not null
),

-- winsorising bounds per program type (Tukey's far-out fences): a DiD beyond the quartiles
-- ± impact.winsorise_iqr_multiple × the interquartile range is clipped to the fence
bounds as (
    select
        quartiles.program_type,
        quartiles.q1 - parameters.winsorise_iqr_multiple * (quartiles.q3 - quartiles.q1) as did_low,
        quartiles.q3 + parameters.winsorise_iqr_multiple * (quartiles.q3 - quartiles.q1) as did_high
    from (
        select
            program_type,
            {{ ti_quantile_cont('productivity_did', 0.25) }} as q1,
            {{ ti_quantile_cont('productivity_did', 0.75) }} as q3
        from measured
        group by program_type
    ) as quartiles
    cross join parameters
    where parameters.winsorise_iqr_multiple is not null
),

-- participants vs all non-participants: the participant's post-window mean against the
-- mean of every never-enrolled worker measured in the same months
nonparticipant_post as (
    select
        measured.enrollment_id,
        {{ exact_avg('nonparticipant_months.mean_productivity_index') }} as nonparticipant_post_mean_index
    from measured
    inner join learning_history
        on measured.enrollment_id = learning_history.enrollment_id
    inner join nonparticipant_months
        on nonparticipant_months.period between learning_history.post_window_start_month
            and learning_history.post_window_end_month
    group by measured.enrollment_id
),

episodes as (
    select
        measured.*,
        case
            when bounds.did_low is null then measured.productivity_did
            else least(greatest(measured.productivity_did, bounds.did_low), bounds.did_high)
        end as did_used,
        bounds.did_low is not null
            and (measured.productivity_did < bounds.did_low or measured.productivity_did > bounds.did_high)
            as is_winsorised,
        nonparticipant_post.nonparticipant_post_mean_index
    from measured
    left join bounds
        on measured.program_type = bounds.program_type
    left join nonparticipant_post
        on measured.enrollment_id = nonparticipant_post.enrollment_id
),

evaluated_people as (
    select
        {{ kpi_input_dimensions('episodes', period_of('episodes.exit_date')) }},
        person_outcomes.role,
        person_outcomes.measured_worker_id,
        person_outcomes.productivity_change is not null as has_productivity_change,
        case when person_outcomes.role = 'participant' then cast(episodes.is_winsorised as integer) end as winsorised,
        case when person_outcomes.role = 'participant' then episodes.did_used end as did,
        -- counterfactual post mean with the winsorised effect: post - did
        case when person_outcomes.role = 'participant' then episodes.post_mean_index - episodes.did_used end
            as counterfactual,
        case when person_outcomes.role = 'participant' then episodes.productivity_change end as participant_change,
        case when person_outcomes.role = 'participant' then episodes.pre_mean_index end as participant_pre,
        case when person_outcomes.role = 'participant' then episodes.post_mean_index end as participant_post,
        case when person_outcomes.role = 'participant'
            then episodes.post_mean_index - episodes.nonparticipant_post_mean_index end as gap_to_nonparticipants,
        case when person_outcomes.role = 'participant' then episodes.nonparticipant_post_mean_index end
            as nonparticipant_post
    from person_outcomes
    inner join episodes
        on person_outcomes.enrollment_id = episodes.enrollment_id
),

{% set aggregates %}
        count(distinct case when role = 'participant' then measured_worker_id end) as n_people,
        count(did) as n_episodes,
        count(distinct case when role = 'control' and has_productivity_change then measured_worker_id end)
            as n_comparison,
        sum(winsorised) as n_winsorised,
        {{ exact_avg('did') }} as mean_did,
        var_samp(did) as var_did,
        {{ exact_avg('counterfactual') }} as mean_counterfactual,
        var_samp(counterfactual) as var_counterfactual,
        covar_samp(did, counterfactual) as cov_did_counterfactual,
        {{ exact_avg('participant_change') }} as mean_change,
        var_samp(participant_change) as var_change,
        {{ exact_avg('participant_pre') }} as mean_pre,
        var_samp(participant_pre) as var_pre,
        covar_samp(participant_change, participant_pre) as cov_change_pre,
        count(gap_to_nonparticipants) as n_gap,
        {{ exact_avg('gap_to_nonparticipants') }} as mean_gap,
        var_samp(gap_to_nonparticipants) as var_gap,
        {{ exact_avg('case when gap_to_nonparticipants is not null then nonparticipant_post end') }} as mean_nonparticipant,
        var_samp(case when gap_to_nonparticipants is not null then nonparticipant_post end) as var_nonparticipant,
        covar_samp(gap_to_nonparticipants, nonparticipant_post) as cov_gap_nonparticipant
{% endset %}

sliced_cells as (
    {{ kpi_sliced('evaluated_people', aggregates, grains=grains) }}
),
{% endset %}{{ ti_persisted_ctes(leading_ctes, ['parameters', 'funnel_rows', 'slice_checks', 'balance_checks', 'sliced_cells']) }}
{{ complementary_suppression('sliced_cells', 'n_people', grains=grains, name='sliced') }},

funnel_input as (
    select
        {{ kpi_input_dimensions('funnel_rows', period_of('funnel_rows.exit_date')) }},
        funnel_rows.productivity_exclusion
    from funnel_rows
),

funnel as (
    {{ funnel_sliced('productivity_exclusion', grains=grains) }}
),

-- effect E = mean(a), base B = mean(b): relative R = E / B, with the delta-method variance
-- (var(a) - 2R cov(a, b) + R^2 var(b)) / (n B^2)
estimates as (
    select
        sliced.*,
        cast('did_matched' as {{ dbt.type_string() }}) as estimation_method,
        sliced.n_episodes as estimate_n,
        sliced.n_comparison as estimate_n_comparison,
        sliced.mean_did as effect,
        sqrt(sliced.var_did / sliced.n_episodes) as se_effect,
        sliced.mean_counterfactual as base,
        (sliced.var_did - 2 * (sliced.mean_did / sliced.mean_counterfactual) * sliced.cov_did_counterfactual
            + (sliced.mean_did / sliced.mean_counterfactual) * (sliced.mean_did / sliced.mean_counterfactual)
              * sliced.var_counterfactual) as relative_numerator_variance
    from sliced
    union all
    select
        sliced.*,
        cast('naive_pre_post' as {{ dbt.type_string() }}) as estimation_method,
        sliced.n_episodes as estimate_n,
        cast(null as bigint) as estimate_n_comparison,
        sliced.mean_change as effect,
        sqrt(sliced.var_change / sliced.n_episodes) as se_effect,
        sliced.mean_pre as base,
        (sliced.var_change - 2 * (sliced.mean_change / sliced.mean_pre) * sliced.cov_change_pre
            + (sliced.mean_change / sliced.mean_pre) * (sliced.mean_change / sliced.mean_pre) * sliced.var_pre)
            as relative_numerator_variance
    from sliced
    union all
    select
        sliced.*,
        cast('naive_vs_nonparticipants' as {{ dbt.type_string() }}) as estimation_method,
        sliced.n_gap as estimate_n,
        cast(null as bigint) as estimate_n_comparison,
        sliced.mean_gap as effect,
        sqrt(sliced.var_gap / sliced.n_gap) as se_effect,
        sliced.mean_nonparticipant as base,
        (sliced.var_gap - 2 * (sliced.mean_gap / sliced.mean_nonparticipant) * sliced.cov_gap_nonparticipant
            + (sliced.mean_gap / sliced.mean_nonparticipant) * (sliced.mean_gap / sliced.mean_nonparticipant)
              * sliced.var_nonparticipant) as relative_numerator_variance
    from sliced
),

relative as (
    select
        estimates.*,
        estimates.effect / nullif(estimates.base, 0) as relative_effect,
        sqrt(greatest(estimates.relative_numerator_variance, 0) / estimates.estimate_n)
            / nullif(abs(estimates.base), 0) as se_relative
    from estimates
),

published as (
    select
        cast('productivity_change' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('relative') }},
        relative.estimation_method,
        cast(4 as integer) as evaluation_level,
        cast('index_points' as {{ dbt.type_string() }}) as unit,
        cast(null as double) as numerator,
        cast(null as double) as denominator,
        {{ published('relative.estimate_n', 'relative.is_suppressed', 'bigint') }} as n,
        {{ count_band('relative.n_people', 'relative.is_suppressed') }} as n_band,
        {{ published('relative.estimate_n_comparison', 'relative.is_suppressed', 'bigint') }} as n_comparison,
        {{ published('relative.effect', 'relative.is_suppressed') }} as estimate,
        {{ published('relative.effect - ' ~ ci_z() ~ ' * relative.se_effect', 'relative.is_suppressed') }} as ci_low,
        {{ published('relative.effect + ' ~ ci_z() ~ ' * relative.se_effect', 'relative.is_suppressed') }} as ci_high,
        {{ published('relative.se_effect', 'relative.is_suppressed') }} as se,
        {{ published('100.0 * relative.relative_effect', 'relative.is_suppressed') }} as relative_pct,
        {{ published('100.0 * (relative.relative_effect - ' ~ ci_z() ~ ' * relative.se_relative)', 'relative.is_suppressed') }}
            as relative_ci_low,
        {{ published('100.0 * (relative.relative_effect + ' ~ ci_z() ~ ' * relative.se_relative)', 'relative.is_suppressed') }}
            as relative_ci_high,
        {{ published('relative.base', 'relative.is_suppressed') }} as comparison_level,
        {{ published("case when relative.estimation_method = 'did_matched' then balance_checks.pretrend_points end",
            'relative.is_suppressed') }} as pretrend_points,
        case when relative.estimation_method = 'did_matched' and not relative.is_suppressed
            then coalesce(balance_checks.pretrend_status, 'not_assessable: no participant with enough pre-window months')
        end as pretrend_status,
        {{ published("case when relative.estimation_method = 'did_matched' then balance_checks.balance_smd end",
            'relative.is_suppressed') }} as balance_smd,
        {{ published('coalesce(relative.n_winsorised, 0)', 'relative.is_suppressed', 'bigint') }} as n_winsorised,
        {{ funnel_published('relative.is_suppressed') }}
        relative.estimation_method = 'did_matched'
            and {{ flag_reasons(['slice_checks.flag_reason', low_used_share_reason()]) }} is not null as is_flagged,
        case when relative.estimation_method = 'did_matched'
            then {{ flag_reasons(['slice_checks.flag_reason', low_used_share_reason()]) }}
        end as flag_reason,
        parameters.definition_version,
        relative.is_suppressed as suppressed
    from relative
    cross join parameters
    left join funnel
        on {{ kpi_slice_join('relative', 'funnel') }}
    left join slice_checks
        on {{ kpi_slice_join('relative', 'slice_checks') }}
    left join balance_checks
        on {{ kpi_slice_join('relative', 'balance_checks') }}
)

select * from published
