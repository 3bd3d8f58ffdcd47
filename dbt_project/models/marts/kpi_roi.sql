-- Phillips ROI per slice (docs/measurement.md). Costs are the fully-loaded ledger of
-- int_training_costs__allocated_to_enrollments, by category: vendor and tuition fees,
-- licences (shared, allocated by learning hours), design and development (prorated over
-- the program's expected life), facilitators, travel, stipends, evaluation, and
-- participants' wages for learning time. Grants and tax credits are offsets, shown beside
-- the cost, never netted into it.
-- Benefits come only from the isolated (DiD) effects of this project's marts, converted
-- with the money factors of config/parameters.yml; no effect estimate (or a suppressed
-- one) means no benefit. The conservative ROI uses the lower CI bound of every effect;
-- extreme productivity DiDs are already winsorised (impact.winsorise_iqr_multiple); productivity is
-- valued with the relative effect (ratio of means). A slice whose effects are flagged is
-- flagged here; its ROI is a confident figure only when no effect is flagged and no effect's
-- 95% CI includes 0 (effects_ci_spanning_zero names them). Whole data window only: costs follow starts, benefits follow exits.
{%- set all_grains = var('kpi_slice_grains', none) %}
{%- set grains = kpi_grains_without_period(all_grains) %}

with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

costs as (
    select * from {{ ref('int_training_costs__allocated_to_enrollments') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

productivity_effects as (
    select * from {{ ref('kpi_productivity_change') }}
    where estimation_method = 'did_matched'
),

mobility_effects as (
    select * from {{ ref('kpi_internal_mobility') }}
    where kpi = 'internal_mobility'
),

retention_effects as (
    select * from {{ ref('kpi_retention') }}
    where kpi = 'retention'
),

{%- set cost_categories = ['vendor_fee', 'tuition', 'licence', 'design_development', 'facilitator',
                           'travel', 'stipend', 'evaluation', 'participant_wages'] %}
{%- set offset_categories = ['grant', 'tax_credit'] %}

cost_items as (
    select
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.started_on')) }},
        costs.cost_category,
        costs.allocation,
        costs.amount
    from costs
    inner join learning_history
        on costs.enrollment_id = learning_history.enrollment_id
),

{% set cost_aggregates %}
        {%- for category in cost_categories + offset_categories %}
        coalesce({{ exact_sum("case when cost_category = '" ~ category ~ "' then amount end") }}, 0) as {{ category }}_amount,
        {%- endfor %}
        coalesce(cast(sum(cast(case when cost_category not in ('{{ cost_categories | join("', '") }}', '{{ offset_categories | join("', '") }}')
            then amount end as decimal(38, 12))) as double), 0) as other_amount,  {#- exact_sum, D66 #}
        coalesce({{ exact_sum("case when allocation = 'shared_by_hours' then amount end") }}, 0) as allocated_shared_amount
{% endset %}

sliced_costs as (
    {{ kpi_sliced('cost_items', cost_aggregates, grains=grains) }}
),

-- participants; the benefit population is the completers (first attempt completed or passed)
participants as (
    select
        {{ kpi_input_dimensions('learning_history', period_of('learning_history.started_on')) }},
        learning_history.worker_id,
        learning_history.is_treated,
        coalesce(learning_history.fte_pct, 100.0) / 100.0 as fte,
        cast(learning_history.base_pay as double) as base_pay,
        -- Phillips: first-year benefits only for programs shorter than a month
        case
            when learning_history.window_closes_on < {{ add_to_date('month', 1, 'learning_history.started_on') }}
                then 1.0
            else parameters.benefit_years_long_programs
        end as benefit_years
    from learning_history
    cross join parameters
),

{% set population_aggregates %}
        count(distinct worker_id) as n_participants,
        count(distinct case when is_treated then worker_id end) as n_completer_people,
        sum(case when is_treated then 1 else 0 end) as n_completers,
        coalesce({{ exact_sum('case when is_treated then fte * benefit_years end') }}, 0) as completer_fte_years,
        coalesce({{ exact_sum('case when is_treated then base_pay end') }}, 0) as completer_base_pay
{% endset %}

population_cells as (
    {{ kpi_sliced('participants', population_aggregates, grains=grains) }}
),

-- the people of kpi_efficiency's cells: suppressed over every grain exactly as there (the
-- period grains included), so no ROI cell publishes what an efficiency cell hides
suppression_population as (
    {{ kpi_sliced('participants', 'count(distinct worker_id) as n_people', grains=all_grains) }}
),

{{ complementary_suppression('suppression_population', 'n_people', grains=all_grains, name='suppression') }},

sliced_population as (
    select population_cells.*, suppression.is_suppressed
    from population_cells
    inner join suppression
        on {{ kpi_slice_join('population_cells', 'suppression') }}
),

benefits as (
    select
        sliced_population.*,
        {%- for category in cost_categories + offset_categories %}
        coalesce(sliced_costs.{{ category }}_amount, 0) as {{ category }}_amount,
        {%- endfor %}
        coalesce(sliced_costs.other_amount, 0) as other_amount,
        coalesce(sliced_costs.allocated_shared_amount, 0) as allocated_shared_amount,
        -- productivity benefits are valued per % of output: the relative effect (ratio of means)
        productivity_effects.relative_pct as productivity_effect_pct,
        productivity_effects.relative_ci_low as productivity_effect_ci_low_pct,
        mobility_effects.estimate as mobility_effect_pp,
        mobility_effects.ci_low as mobility_effect_ci_low_pp,
        retention_effects.estimate as retention_effect_pp,
        retention_effects.ci_low as retention_effect_ci_low_pp,
        -- effects whose 95% CI includes 0: the ROI built on them is not a confident figure
        {{ flag_reasons([
            "case when productivity_effects.relative_ci_low <= 0 and productivity_effects.relative_ci_high >= 0 then 'productivity' end",
            "case when mobility_effects.ci_low <= 0 and mobility_effects.ci_high >= 0 then 'internal_mobility' end",
            "case when retention_effects.ci_low <= 0 and retention_effects.ci_high >= 0 then 'retention' end",
        ]) }} as effects_ci_spanning_zero,
        coalesce(productivity_effects.flag_reason, mobility_effects.flag_reason, retention_effects.flag_reason)
            as flag_reason,
        coalesce(productivity_effects.is_flagged, false)
            or coalesce(mobility_effects.is_flagged, false)
            or coalesce(retention_effects.is_flagged, false) as is_effect_flagged,
        parameters.value_per_productivity_pct_per_fte_year,
        parameters.replacement_cost_share_of_pay,
        parameters.external_hire_cost - parameters.internal_move_cost as internal_fill_saving
    from sliced_population
    cross join parameters
    left join sliced_costs
        on {{ kpi_slice_join('sliced_population', 'sliced_costs') }}
    left join productivity_effects
        on {{ kpi_slice_join('sliced_population', 'productivity_effects') }}
    left join mobility_effects
        on {{ kpi_slice_join('sliced_population', 'mobility_effects') }}
    left join retention_effects
        on {{ kpi_slice_join('sliced_population', 'retention_effects') }}
),

monetised as (
    select
        benefits.*,
        {%- for category in cost_categories %}
        benefits.{{ category }}_amount +
        {%- endfor %}
        benefits.other_amount as fully_loaded_cost,
        {%- for category in offset_categories %}
        benefits.{{ category }}_amount{{ ' +' if not loop.last }}
        {%- endfor %} as offsets_amount,
        {%- for bound, suffix in [('', ''), ('_ci_low', '_conservative')] %}
        coalesce(benefits.productivity_effect{{ bound }}_pct * benefits.value_per_productivity_pct_per_fte_year
            * benefits.completer_fte_years, 0) as productivity_benefit{{ suffix }},
        coalesce(benefits.retention_effect{{ bound }}_pp / 100.0 * benefits.replacement_cost_share_of_pay
            * benefits.completer_base_pay, 0) as retention_benefit{{ suffix }},
        coalesce(benefits.mobility_effect{{ bound }}_pp / 100.0 * benefits.n_completers
            * benefits.internal_fill_saving, 0) as mobility_benefit{{ suffix }},
        {%- endfor %}
        benefits.productivity_effect_pct is not null
            or benefits.mobility_effect_pp is not null
            or benefits.retention_effect_pp is not null as has_improvement_data
    from benefits
),

returns as (
    select
        monetised.*,
        productivity_benefit + retention_benefit + mobility_benefit as monetary_benefits,
        productivity_benefit_conservative + retention_benefit_conservative + mobility_benefit_conservative
            as monetary_benefits_conservative
    from monetised
),

published as (
    select
        cast('roi' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('returns') }},
        cast('phillips' as {{ dbt.type_string() }}) as estimation_method,
        cast(5 as integer) as evaluation_level,
        cast('pct' as {{ dbt.type_string() }}) as unit,
        {{ published('returns.monetary_benefits - returns.fully_loaded_cost', 'returns.is_suppressed') }} as numerator,
        {{ published('returns.fully_loaded_cost', 'returns.is_suppressed') }} as denominator,
        {{ published('returns.n_participants', 'returns.is_suppressed', 'bigint') }} as n,
        {{ count_band('returns.n_participants', 'returns.is_suppressed') }} as n_band,
        {{ published('returns.n_completers', 'returns.is_suppressed', 'bigint') }} as n_completers,
        {{ published('100.0 * (returns.monetary_benefits - returns.fully_loaded_cost) / nullif(returns.fully_loaded_cost, 0)',
            'returns.is_suppressed') }} as estimate,
        cast(null as double) as ci_low,
        cast(null as double) as ci_high,
        {{ published('100.0 * (returns.monetary_benefits_conservative - returns.fully_loaded_cost)'
            ~ ' / nullif(returns.fully_loaded_cost, 0)', 'returns.is_suppressed') }} as roi_pct_conservative,
        {{ published('100.0 * (returns.monetary_benefits - (returns.fully_loaded_cost + returns.offsets_amount))'
            ~ ' / nullif(returns.fully_loaded_cost + returns.offsets_amount, 0)', 'returns.is_suppressed') }}
            as roi_pct_after_offsets,
        {{ published('returns.monetary_benefits / nullif(returns.fully_loaded_cost, 0)', 'returns.is_suppressed') }}
            as benefit_cost_ratio,
        {{ published('returns.monetary_benefits_conservative / nullif(returns.fully_loaded_cost, 0)',
            'returns.is_suppressed') }} as benefit_cost_ratio_conservative,
        -- months of (annual) benefits needed to repay the cost; none without a positive benefit
        {{ published('case when returns.monetary_benefits > 0 then 12.0 * returns.fully_loaded_cost / returns.monetary_benefits end',
            'returns.is_suppressed') }} as payback_months,
        {%- for category in cost_categories %}
        {{ published('returns.' ~ category ~ '_amount', 'returns.is_suppressed') }} as cost_{{ category }},
        {%- endfor %}
        {{ published('returns.other_amount', 'returns.is_suppressed') }} as cost_other,
        {{ published('returns.allocated_shared_amount', 'returns.is_suppressed') }} as cost_allocated_shared,
        {{ published('returns.fully_loaded_cost', 'returns.is_suppressed') }} as fully_loaded_cost,
        {%- for category in offset_categories %}
        {{ published('returns.' ~ category ~ '_amount', 'returns.is_suppressed') }} as offset_{{ category }},
        {%- endfor %}
        {{ published('returns.fully_loaded_cost + returns.offsets_amount', 'returns.is_suppressed') }}
            as net_cost_after_offsets,
        {{ published('returns.productivity_benefit', 'returns.is_suppressed') }} as benefit_productivity,
        {{ published('returns.retention_benefit', 'returns.is_suppressed') }} as benefit_retention,
        {{ published('returns.mobility_benefit', 'returns.is_suppressed') }} as benefit_mobility,
        {{ published('returns.monetary_benefits', 'returns.is_suppressed') }} as monetary_benefits,
        {{ published('returns.monetary_benefits_conservative', 'returns.is_suppressed') }}
            as monetary_benefits_conservative,
        returns.has_improvement_data,
        returns.is_effect_flagged as is_flagged,
        returns.flag_reason,
        -- confidence follows the impact intervals: no flagged effect, and no effect whose CI includes 0
        returns.has_improvement_data and not returns.is_effect_flagged and returns.effects_ci_spanning_zero is null
            as is_confident,
        returns.effects_ci_spanning_zero,
        parameters.currency,
        parameters.definition_version,
        returns.is_suppressed as suppressed
    from returns
    cross join parameters
)

select * from published
