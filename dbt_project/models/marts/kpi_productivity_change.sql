-- Productivity change of completers (docs/methods.md): the matched difference-in-
-- differences estimate (exp(mean(did)) - 1) × 100 with its 95% CI, and beside it the
-- naive pre/post change of the same participants, labelled as such. A DiD row whose
-- slice fails the balance or pre-trend check (kpi_comparison_balance) is flagged.
-- Extreme values (Phillips): an episode whose |did| on the log scale exceeds
-- roi.extreme_abs_log_change is left out of both estimates and counted apart.
{%- set grains = var('kpi_slice_grains', none) %}

with episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

person_outcomes as (
    select * from {{ ref('int_impact__person_outcomes') }}
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
        max(case when kpi = 'pretrend' then estimate end) as pretrend_pct
    from {{ ref('kpi_comparison_balance') }}
    group by {{ kpi_slice_key() }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

episodes as (
    select
        episode_outcomes.*,
        abs(episode_outcomes.productivity_did) > parameters.extreme_abs_log_change as is_extreme
    from episode_outcomes
    cross join parameters
    where episode_outcomes.productivity_did is not null
),

evaluated_people as (
    select
        {{ kpi_input_dimensions('episodes', period_of('episodes.exit_date')) }},
        person_outcomes.role,
        person_outcomes.measured_worker_id,
        person_outcomes.productivity_log_change is not null as has_productivity_change,
        episodes.is_extreme,
        case when person_outcomes.role = 'participant' then episodes.productivity_did end as productivity_did,
        case when person_outcomes.role = 'participant' then episodes.productivity_log_change end
            as participant_log_change
    from person_outcomes
    inner join episodes
        on person_outcomes.enrollment_id = episodes.enrollment_id
),

kept_people as (
    select * from evaluated_people where not is_extreme
),

{% set aggregates %}
        count(distinct case when role = 'participant' then measured_worker_id end) as n_people,
        count(productivity_did) as n_episodes,
        count(distinct case when role = 'control' and has_productivity_change then measured_worker_id end)
            as n_comparison,
        avg(productivity_did) as mean_did,
        stddev_samp(productivity_did) as sd_did,
        avg(participant_log_change) as mean_naive,
        stddev_samp(participant_log_change) as sd_naive
{% endset %}

sliced_cells as (
    {{ kpi_sliced('kept_people', aggregates, grains=grains) }}
),

{{ complementary_suppression('sliced_cells', 'n_people', grains=grains, name='sliced') }},

extremes as (
    {{ kpi_sliced('evaluated_people', 'count(case when is_extreme then productivity_did end) as n_extreme', grains=grains) }}
),

estimates as (
    select
        sliced.*,
        cast('did_matched' as varchar) as estimation_method,
        sliced.n_comparison as estimate_n_comparison,
        sliced.mean_did as mean_log_change,
        sliced.sd_did / sqrt(sliced.n_episodes) as se_log_change
    from sliced
    union all
    select
        sliced.*,
        cast('naive_pre_post' as varchar) as estimation_method,
        cast(null as bigint) as estimate_n_comparison,
        sliced.mean_naive as mean_log_change,
        sliced.sd_naive / sqrt(sliced.n_episodes) as se_log_change
    from sliced
),

published as (
    select
        cast('productivity_change' as varchar) as kpi,
        {{ kpi_slice_key('estimates') }},
        estimates.estimation_method,
        cast(4 as integer) as evaluation_level,
        cast('pct' as varchar) as unit,
        cast(null as double) as numerator,
        cast(null as double) as denominator,
        {{ published('estimates.n_episodes', 'estimates.is_suppressed', 'bigint') }} as n,
        {{ count_band('estimates.n_people', 'estimates.is_suppressed') }} as n_band,
        {{ published('estimates.estimate_n_comparison', 'estimates.is_suppressed', 'bigint') }} as n_comparison,
        {{ published('100.0 * (exp(estimates.mean_log_change) - 1)', 'estimates.is_suppressed') }} as estimate,
        {{ published('100.0 * (exp(estimates.mean_log_change - ' ~ ci_z() ~ ' * estimates.se_log_change) - 1)',
            'estimates.is_suppressed') }} as ci_low,
        {{ published('100.0 * (exp(estimates.mean_log_change + ' ~ ci_z() ~ ' * estimates.se_log_change) - 1)',
            'estimates.is_suppressed') }} as ci_high,
        {{ published('estimates.mean_log_change', 'estimates.is_suppressed') }} as mean_log_change,
        {{ published('estimates.se_log_change', 'estimates.is_suppressed') }} as se_log_change,
        {{ published("case when estimates.estimation_method = 'did_matched' then balance_checks.pretrend_pct end",
            'estimates.is_suppressed') }} as pretrend_pct,
        {{ published("case when estimates.estimation_method = 'did_matched' then balance_checks.balance_smd end",
            'estimates.is_suppressed') }} as balance_smd,
        {{ published('coalesce(extremes.n_extreme, 0)', 'estimates.is_suppressed', 'bigint') }} as n_excluded_extreme,
        estimates.estimation_method = 'did_matched' and slice_checks.flag_reason is not null as is_flagged,
        case when estimates.estimation_method = 'did_matched' then slice_checks.flag_reason end as flag_reason,
        parameters.definition_version,
        estimates.is_suppressed as suppressed
    from estimates
    cross join parameters
    left join extremes
        on {{ kpi_slice_join('estimates', 'extremes') }}
    left join slice_checks
        on {{ kpi_slice_join('estimates', 'slice_checks') }}
    left join balance_checks
        on {{ kpi_slice_join('estimates', 'balance_checks') }}
)

select * from published
