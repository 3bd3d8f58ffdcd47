-- Phillips ROI per slice. Costs are fully loaded: finance lines by category (design
-- and development prorated over the program's expected life), shared lines (no known
-- program) allocated by participant hours, and participants' wages for learning time.
-- Grants and tax credits are shown as offsets, never netted into the cost.
-- Benefits come only from the isolated (DiD) effects of this project's marts, converted
-- with the money factors of config/parameters.yml; no effect estimate means no benefit.
-- The conservative ROI uses the lower CI bound of every effect.
with cost_lines_all as (
    select * from {{ ref('stg_finance__cost_lines') }}
),

programs as (
    select * from {{ ref('stg_lms__programs') }}
),

learning_history as (
    select * from {{ ref('int_learning_history') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

-- no exchange rates in the sources: a line in another currency cannot be added up
cost_lines as (
    select cost_lines_all.*
    from cost_lines_all
    cross join parameters
    where cost_lines_all.currency = parameters.currency
),

productivity_effects as (
    select * from {{ ref('kpi_productivity_change') }}
    where estimation_method = 'did_matched'
),

mobility_effects as (
    select * from {{ ref('kpi_internal_mobility') }}
),

retention_effects as (
    select * from {{ ref('kpi_retention') }}
    where kpi = 'retention'
),

{%- set cost_categories = ['vendor_fee', 'tuition', 'licence', 'design_development', 'facilitator',
                           'travel', 'stipend', 'evaluation', 'participant_wages'] %}
{%- set offset_categories = ['grant', 'tax_credit'] %}

-- a program's slice: the catalogue's type, else the type most of its enrollments derived
program_slices as (
    select
        learning_history.program_id,
        coalesce(learning_history.program_type, 'unknown') as program_type,
        coalesce(learning_history.method, 'unknown') as method,
        programs.expected_life_years,
        sum(coalesce(learning_history.hours_spent, 0)) as participant_hours
    from learning_history
    left join programs
        on learning_history.program_id = programs.program_id
    group by 1, 2, 3, 4
    qualify row_number() over (
        partition by learning_history.program_id
        order by count(*) desc, coalesce(learning_history.program_type, 'unknown')
    ) = 1
),

evaluation_period as (
    select
        ({{ dbt.datediff('data_start_month', 'data_end_month', 'month') }} + 1) / 12.0 as evaluation_years
    from data_window
),

direct_costs as (
    select
        program_slices.program_type,
        program_slices.method,
        cost_lines.cost_category,
        case
            -- design and development serve the program's whole expected life
            when cost_lines.cost_category = 'design_development' and program_slices.expected_life_years > 0
                then cast(cost_lines.amount as double)
                    * least(1.0, evaluation_period.evaluation_years / program_slices.expected_life_years)
            else cast(cost_lines.amount as double)
        end as amount,
        false as is_allocated
    from cost_lines
    inner join program_slices
        on cost_lines.program_id = program_slices.program_id
    cross join evaluation_period
),

shared_cost_totals as (
    select
        cost_lines.cost_category,
        sum(cast(cost_lines.amount as double)) as amount
    from cost_lines
    left join program_slices
        on cost_lines.program_id = program_slices.program_id
    where program_slices.program_id is null
    group by cost_lines.cost_category
),

hour_shares as (
    select
        program_type,
        method,
        participant_hours / nullif(sum(participant_hours) over (), 0) as hour_share
    from program_slices
),

allocated_costs as (
    select
        hour_shares.program_type,
        hour_shares.method,
        shared_cost_totals.cost_category,
        shared_cost_totals.amount * hour_shares.hour_share as amount,
        true as is_allocated
    from shared_cost_totals
    cross join hour_shares
),

-- learning time is paid time: hours × loaded hourly rate from base pay at start
participant_wage_costs as (
    select
        coalesce(learning_history.program_type, 'unknown') as program_type,
        coalesce(learning_history.method, 'unknown') as method,
        cast('participant_wages' as varchar) as cost_category,
        coalesce(learning_history.hours_spent, 0)
            * cast(learning_history.base_pay as double) * parameters.loaded_wage_multiplier
            / parameters.working_hours_per_year as amount,
        false as is_allocated
    from learning_history
    cross join parameters
    where learning_history.base_pay is not null
),

cost_items as (
    select * from direct_costs
    union all
    select * from allocated_costs
    union all
    select * from participant_wage_costs
),

{% set cost_aggregates %}
        {%- for category in cost_categories + offset_categories %}
        coalesce(sum(case when cost_category = '{{ category }}' then amount end), 0) as {{ category }}_amount,
        {%- endfor %}
        coalesce(sum(case when is_allocated then amount end), 0) as allocated_shared_amount
{% endset %}

sliced_costs as (
    {{ kpi_sliced('cost_items', cost_aggregates) }}
),

-- participants; the benefit population is the completers (first attempt completed or passed)
participants as (
    select
        coalesce(learning_history.program_type, 'unknown') as program_type,
        coalesce(learning_history.method, 'unknown') as method,
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
        coalesce(sum(case when is_treated then fte * benefit_years end), 0) as completer_fte_years,
        coalesce(sum(case when is_treated then base_pay end), 0) as completer_base_pay
{% endset %}

sliced_population as (
    {{ kpi_sliced('participants', population_aggregates) }}
),

benefits as (
    select
        sliced_population.*,
        {%- for category in cost_categories + offset_categories %}
        sliced_costs.{{ category }}_amount,
        {%- endfor %}
        sliced_costs.allocated_shared_amount,
        productivity_effects.estimate as productivity_effect_pct,
        productivity_effects.ci_low as productivity_effect_ci_low_pct,
        coalesce(productivity_effects.is_flagged, false) as is_productivity_flagged,
        mobility_effects.estimate as mobility_effect_pp,
        mobility_effects.ci_low as mobility_effect_ci_low_pp,
        retention_effects.estimate as retention_effect_pp,
        retention_effects.ci_low as retention_effect_ci_low_pp,
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
        coalesce(benefits.{{ category }}_amount, 0){{ ' +' if not loop.last }}
        {%- endfor %} as fully_loaded_cost,
        {%- for category in offset_categories %}
        coalesce(benefits.{{ category }}_amount, 0){{ ' +' if not loop.last }}
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
        cast('roi' as varchar) as kpi,
        returns.slice_grain,
        returns.program_type,
        returns.method,
        cast('all' as varchar) as period,
        cast('phillips' as varchar) as estimation_method,
        cast(5 as integer) as evaluation_level,
        cast('pct' as varchar) as unit,
        round(cast({{ unless_suppressed('returns.monetary_benefits - returns.fully_loaded_cost', 'returns.n_participants') }} as double), 4)
            as numerator,
        round(cast({{ unless_suppressed('returns.fully_loaded_cost', 'returns.n_participants') }} as double), 4) as denominator,
        cast({{ unless_suppressed('returns.n_participants', 'returns.n_participants') }} as bigint) as n,
        {{ count_band('returns.n_participants') }} as n_band,
        cast({{ unless_suppressed('returns.n_completers', 'returns.n_participants') }} as bigint) as n_completers,
        round(cast({{ unless_suppressed(
            '100.0 * (returns.monetary_benefits - returns.fully_loaded_cost) / nullif(returns.fully_loaded_cost, 0)',
            'returns.n_participants') }} as double), 4) as estimate,
        cast(null as double) as ci_low,
        cast(null as double) as ci_high,
        round(cast({{ unless_suppressed(
            '100.0 * (returns.monetary_benefits_conservative - returns.fully_loaded_cost) / nullif(returns.fully_loaded_cost, 0)',
            'returns.n_participants') }} as double), 4) as roi_pct_conservative,
        round(cast({{ unless_suppressed(
            '100.0 * (returns.monetary_benefits - (returns.fully_loaded_cost + returns.offsets_amount))'
            ~ ' / nullif(returns.fully_loaded_cost + returns.offsets_amount, 0)',
            'returns.n_participants') }} as double), 4) as roi_pct_after_offsets,
        round(cast({{ unless_suppressed('returns.monetary_benefits / nullif(returns.fully_loaded_cost, 0)',
            'returns.n_participants') }} as double), 4) as benefit_cost_ratio,
        round(cast({{ unless_suppressed('returns.monetary_benefits_conservative / nullif(returns.fully_loaded_cost, 0)',
            'returns.n_participants') }} as double), 4) as benefit_cost_ratio_conservative,
        -- months of (annual) benefits needed to repay the cost; none without a positive benefit
        round(cast({{ unless_suppressed(
            'case when returns.monetary_benefits > 0 then 12.0 * returns.fully_loaded_cost / returns.monetary_benefits end',
            'returns.n_participants') }} as double), 4) as payback_months,
        {%- for category in cost_categories %}
        round(cast({{ unless_suppressed('returns.' ~ category ~ '_amount', 'returns.n_participants') }} as double), 4)
            as cost_{{ category }},
        {%- endfor %}
        round(cast({{ unless_suppressed('returns.allocated_shared_amount', 'returns.n_participants') }} as double), 4)
            as cost_allocated_shared,
        round(cast({{ unless_suppressed('returns.fully_loaded_cost', 'returns.n_participants') }} as double), 4)
            as fully_loaded_cost,
        {%- for category in offset_categories %}
        round(cast({{ unless_suppressed('returns.' ~ category ~ '_amount', 'returns.n_participants') }} as double), 4)
            as offset_{{ category }},
        {%- endfor %}
        round(cast({{ unless_suppressed('returns.fully_loaded_cost + returns.offsets_amount', 'returns.n_participants') }} as double), 4)
            as net_cost_after_offsets,
        round(cast({{ unless_suppressed('returns.productivity_benefit', 'returns.n_participants') }} as double), 4)
            as benefit_productivity,
        round(cast({{ unless_suppressed('returns.retention_benefit', 'returns.n_participants') }} as double), 4)
            as benefit_retention,
        round(cast({{ unless_suppressed('returns.mobility_benefit', 'returns.n_participants') }} as double), 4)
            as benefit_mobility,
        round(cast({{ unless_suppressed('returns.monetary_benefits', 'returns.n_participants') }} as double), 4)
            as monetary_benefits,
        round(cast({{ unless_suppressed('returns.monetary_benefits_conservative', 'returns.n_participants') }} as double), 4)
            as monetary_benefits_conservative,
        returns.has_improvement_data,
        returns.is_productivity_flagged as is_flagged,
        returns.has_improvement_data and not returns.is_productivity_flagged as is_confident,
        parameters.currency,
        parameters.definition_version,
        returns.n_participants < parameters.min_cell_size as suppressed
    from returns
    cross join parameters
)

select * from published
