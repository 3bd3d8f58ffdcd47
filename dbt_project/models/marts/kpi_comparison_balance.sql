-- Credibility checks of the comparison group, per slice (docs/measurement.md, "isolating
-- the effect"): standardised mean differences of the baseline covariates between matched
-- participants and the comparison pool before matching (every worker not yet enrolled and
-- employed at the participant's start month) and after matching (the matched controls),
-- and the pre-trend check (productivity trend over the pre window, participants minus
-- controls). A slice fails when any |SMD| after matching exceeds matching.max_abs_smd or
-- the pre-trend (index points) exceeds matching.max_pretrend_points with a 95% CI excluding 0:
-- its impact KPI rows are flagged with the failed check and its size, and its
-- ROI is not published as a confident figure. Variances are in population form on every side.
{%- set grains = var('kpi_slice_grains', none) %}
{%- set covariates = balance_covariates() %}
{% set leading_ctes %}
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

matched_controls as (
    select * from {{ ref('int_impact__matched_controls') }}
),

candidate_baselines as (
    select * from {{ ref('int_impact__candidate_baselines') }}
),

episode_outcomes as (
    select * from {{ ref('int_impact__episode_outcomes') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

matched_episodes as (
    select
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.exit_date')) }},
        learning_history.enrollment_id,
        learning_history.worker_id,
        learning_history.start_month,
        {%- for covariate in covariates %}
        cast(learning_history.{{ covariate.participant }} as double) as {{ covariate.covariate }}{{ ',' if not loop.last }}
        {%- endfor %}
    from learning_history
    where learning_history.enrollment_id in (select enrollment_id from matched_controls)
),

participant_values as (
    {%- for covariate in covariates %}
    select
        program_type, method, program_id, cohort, department, region, period,
        worker_id,
        start_month,
        cast('{{ covariate.covariate }}' as {{ dbt.type_string() }}) as covariate,
        {{ covariate.covariate }} as value
    from matched_episodes
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

-- each participant's controls weigh 1 in total (match_weight, renormalised over the controls
-- with a value; tied controls share weight), so the comparison side is the
-- mean over participants of their controls' mean: with replacement and up to k controls per
-- participant, an unweighted mean would tilt towards participants with more controls
control_values as (
    {%- for covariate in covariates %}
    select
        matched_episodes.program_type, matched_episodes.method, matched_episodes.program_id,
        matched_episodes.cohort, matched_episodes.department, matched_episodes.region, matched_episodes.period,
        matched_controls.control_worker_id as worker_id,
        cast('{{ covariate.covariate }}' as {{ dbt.type_string() }}) as covariate,
        cast(matched_controls.{{ covariate.control }} as double) as value,
        matched_controls.match_weight
            / sum(matched_controls.match_weight) over (partition by matched_controls.enrollment_id) as weight
    from matched_controls
    inner join matched_episodes
        on matched_controls.enrollment_id = matched_episodes.enrollment_id
    where matched_controls.{{ covariate.control }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

-- moments of the whole pool per start month: mixed below by the slice's start months
candidate_moments as (
    {%- for covariate in covariates %}
    select
        start_month,
        cast('{{ covariate.covariate }}' as {{ dbt.type_string() }}) as covariate,
        count(cast({{ covariate.candidate }} as double)) as n_candidates,
        avg(cast({{ covariate.candidate }} as double)) as mean_value,
        avg(cast({{ covariate.candidate }} as double) * cast({{ covariate.candidate }} as double)) as mean_square
    from candidate_baselines
    group by start_month
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

{% set moment_aggregates %}
        count(distinct worker_id) as n_people,
        count(value) as n_values,
        avg(value) as mean_value,
        var_pop(value) as variance
{% endset %}

participants_sliced as (
    {{ kpi_sliced('participant_values', moment_aggregates, keys=['covariate'], grains=grains) }}
),

{% set weighted_moment_aggregates %}
        count(distinct worker_id) as n_people,
        count(value) as n_values,
        sum(weight * value) / sum(weight) as mean_value,
        sum(weight * value * value) / sum(weight) - (sum(weight * value) / sum(weight)) * (sum(weight * value) / sum(weight))
            as variance
{% endset %}

controls_sliced as (
    {{ kpi_sliced('control_values', weighted_moment_aggregates, keys=['covariate'], grains=grains) }}
),

participant_start_months as (
    {{ kpi_sliced('participant_values', 'count(value) as n_values', keys=['covariate', 'start_month'], grains=grains) }}
),

pool_sliced as (
    select
        {{ kpi_slice_key('participant_start_months') }},
        participant_start_months.covariate,
        max(candidate_moments.n_candidates) as n_candidates,
        sum(participant_start_months.n_values * candidate_moments.mean_value)
            / nullif(sum(participant_start_months.n_values), 0) as mean_value,
        sum(participant_start_months.n_values * candidate_moments.mean_square)
            / nullif(sum(participant_start_months.n_values), 0) as mean_square
    from participant_start_months
    inner join candidate_moments
        on participant_start_months.start_month = candidate_moments.start_month
        and participant_start_months.covariate = candidate_moments.covariate
    where candidate_moments.n_candidates > 0
    group by {{ kpi_slice_key('participant_start_months') }}, participant_start_months.covariate
),

balance as (
    select
        {{ kpi_slice_key('participants_sliced') }},
        participants_sliced.covariate,
        stages.matching_stage,
        participants_sliced.n_people,
        participants_sliced.n_values,
        case when stages.matching_stage = 'after_matching' then controls_sliced.n_people else pool_sliced.n_candidates end
            as n_comparison,
        participants_sliced.mean_value as participant_mean,
        case when stages.matching_stage = 'after_matching' then controls_sliced.mean_value else pool_sliced.mean_value end
            as comparison_mean,
        participants_sliced.variance as participant_variance,
        case
            when stages.matching_stage = 'after_matching' then controls_sliced.variance
            else pool_sliced.mean_square - pool_sliced.mean_value * pool_sliced.mean_value
        end as comparison_variance
    from participants_sliced
    cross join (
        select 'before_matching' as matching_stage
        union all
        select 'after_matching'
    ) as stages
    left join controls_sliced
        on {{ kpi_slice_join('participants_sliced', 'controls_sliced') }}
        and participants_sliced.covariate = controls_sliced.covariate
    left join pool_sliced
        on {{ kpi_slice_join('participants_sliced', 'pool_sliced') }}
        and participants_sliced.covariate = pool_sliced.covariate
),

smd as (
    select
        balance.*,
        (balance.participant_mean - balance.comparison_mean)
            / nullif(sqrt((greatest(coalesce(balance.participant_variance, 0), 0)
                + greatest(coalesce(balance.comparison_variance, 0), 0)) / 2.0), 0)
            as standardised_mean_difference
    from balance
),

pretrend_input as (
    select
        {{ kpi_input_dimensions('episode_outcomes', period_of('episode_outcomes.exit_date')) }},
        episode_outcomes.worker_id,
        episode_outcomes.pretrend_did
    from episode_outcomes
    where episode_outcomes.pretrend_did is not null
),
-- a pre-trend needs impact.min_pretrend_months measured months in each half of the pre
-- window, for the participant and at least one control: otherwise it is not assessable
-- (no row here, and the impact rows say so) rather than read as 0

{% set pretrend_aggregates %}
        count(distinct worker_id) as n_people,
        count(*) as n_values,
        {{ exact_avg('pretrend_did') }} as mean_pretrend,
        stddev_samp(pretrend_did) as sd_pretrend
{% endset %}

pretrend as (
    {{ kpi_sliced('pretrend_input', pretrend_aggregates, grains=grains) }}
),

-- a pre-trend fails when it is both material (|mean| above matching.max_pretrend_points)
-- and distinguishable from zero (its 95% CI excludes 0)
pretrend_tests as (
    select
        pretrend.*,
        pretrend.mean_pretrend - {{ ci_z() }} * pretrend.sd_pretrend / sqrt(pretrend.n_values) as ci_low,
        pretrend.mean_pretrend + {{ ci_z() }} * pretrend.sd_pretrend / sqrt(pretrend.n_values) as ci_high,
        abs(pretrend.mean_pretrend) > parameters.max_pretrend_points
            and not (pretrend.mean_pretrend - {{ ci_z() }} * pretrend.sd_pretrend / sqrt(pretrend.n_values) <= 0
                and pretrend.mean_pretrend + {{ ci_z() }} * pretrend.sd_pretrend / sqrt(pretrend.n_values) >= 0)
            as fails_check
    from pretrend
    cross join parameters
),

-- the worst covariate after matching, and the pre-trend, in words with their amounts
worst_balance as (
    select
        {{ kpi_slice_key('smd') }},
        smd.covariate,
        smd.standardised_mean_difference
    from smd
    where smd.matching_stage = 'after_matching'
      and smd.standardised_mean_difference is not null
    qualify row_number() over (
        partition by {{ kpi_slice_key('smd') }}
        order by abs(smd.standardised_mean_difference) desc, smd.covariate
    ) = 1
),

slice_flags as (
    select
        {{ kpi_slice_key('participants') }},
        {{ flag_reasons([
            "case when abs(worst_balance.standardised_mean_difference) > parameters.max_abs_smd then 'balance: '
                || worst_balance.covariate || ' |SMD| ' || cast(" ~ ti_round("abs(worst_balance.standardised_mean_difference)", 3) ~ " as " ~ dbt.type_string() ~ ")
                || ' > ' || cast(parameters.max_abs_smd as " ~ dbt.type_string() ~ ") end",
            "case when pretrend_tests.fails_check then 'pretrend: '
                || cast(" ~ ti_round("pretrend_tests.mean_pretrend", 2) ~ " as " ~ dbt.type_string() ~ ") || ' index points (95% CI '
                || cast(" ~ ti_round("pretrend_tests.ci_low", 2) ~ " as " ~ dbt.type_string() ~ ") || ' to ' || cast(" ~ ti_round("pretrend_tests.ci_high", 2) ~ " as " ~ dbt.type_string() ~ ")
                || '), beyond ' || cast(parameters.max_pretrend_points as " ~ dbt.type_string() ~ ") end",
        ]) }} as slice_flag_reason
    from (select distinct {{ kpi_slice_key() }} from participants_sliced) as participants
    cross join parameters
    left join worst_balance
        on {{ kpi_slice_join('participants', 'worst_balance') }}
    left join pretrend_tests
        on {{ kpi_slice_join('participants', 'pretrend_tests') }}
),

checks as (
    select
        cast('balance_smd' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('smd') }},
        smd.matching_stage,
        smd.covariate,
        cast('smd' as {{ dbt.type_string() }}) as unit,
        smd.n_people,
        smd.n_values,
        smd.n_comparison,
        smd.participant_mean,
        smd.comparison_mean,
        smd.standardised_mean_difference as check_value,
        cast(null as double) as check_ci_low,
        cast(null as double) as check_ci_high,
        smd.matching_stage = 'after_matching' and abs(smd.standardised_mean_difference) > parameters.max_abs_smd
            as fails_check
    from smd
    cross join parameters
    union all
    select
        cast('pretrend' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('pretrend') }},
        cast('after_matching' as {{ dbt.type_string() }}) as matching_stage,
        cast('productivity_index' as {{ dbt.type_string() }}) as covariate,
        cast('index_points' as {{ dbt.type_string() }}) as unit,
        pretrend.n_people,
        pretrend.n_values,
        cast(null as bigint) as n_comparison,
        cast(null as double) as participant_mean,
        cast(null as double) as comparison_mean,
        pretrend.mean_pretrend as check_value,
        pretrend.ci_low as check_ci_low,
        pretrend.ci_high as check_ci_high,
        pretrend.fails_check
    from pretrend_tests as pretrend
),
{% endset %}{{ ti_persisted_ctes(leading_ctes, ['parameters', 'checks', 'slice_flags']) }}
-- every balance row (covariate, stage) describes the matched participants; the pre-trend
-- rows those with a pre-trend: two populations
{{ population_suppression('checks', 'n_people', name='suppressed_checks', population='kpi', grains=grains) }},

published as (
    select
        checks.kpi,
        {{ kpi_slice_key('checks') }},
        cast('matching_check' as {{ dbt.type_string() }}) as estimation_method,
        cast(4 as integer) as evaluation_level,
        checks.unit,
        cast(null as double) as numerator,
        cast(null as double) as denominator,
        {{ published('checks.n_values', 'checks.is_suppressed', 'bigint') }} as n,
        {{ count_band('checks.n_people', 'checks.is_suppressed') }} as n_band,
        {{ published('checks.n_comparison', 'checks.is_suppressed', 'bigint') }} as n_comparison,
        {{ published('checks.check_value', 'checks.is_suppressed') }} as estimate,
        {{ published('checks.check_ci_low', 'checks.is_suppressed') }} as ci_low,
        {{ published('checks.check_ci_high', 'checks.is_suppressed') }} as ci_high,
        checks.matching_stage,
        checks.covariate,
        {{ published('checks.participant_mean', 'checks.is_suppressed') }} as participant_mean,
        {{ published('checks.comparison_mean', 'checks.is_suppressed') }} as comparison_mean,
        case
            when checks.kpi = 'balance_smd' then parameters.max_abs_smd
            else parameters.max_pretrend_points
        end as threshold,
        case when checks.kpi = 'pretrend' and not checks.is_suppressed then 'assessed' end as pretrend_status,
        coalesce(checks.fails_check, false) as is_flagged,
        slice_flags.slice_flag_reason as flag_reason,
        slice_flags.slice_flag_reason is not null as is_slice_flagged,
        parameters.definition_version,
        checks.is_suppressed as suppressed
    from suppressed_checks as checks
    cross join parameters
    left join slice_flags
        on {{ kpi_slice_join('checks', 'slice_flags') }}
)

select * from published
