-- ROI (Phillips), one row per slice, whole data window only (no period grains: costs follow starts,
-- benefits follow exits) (macros/serving.sql, DECISIONS D126). `flagged` = not a confident ROI:
-- a flagged effect behind it, no improvement data, or an effect whose 95% CI includes 0.
{% set grains = kpi_grains_without_period() %}

with slices as (
    {{ serving_slices(grains) }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

rows_ as (
    select
        *,
        not coalesce(is_confident, false) as not_confident,
        nullif(concat_ws('; ',
            flag_reason,
            case when not has_improvement_data then 'no improvement data for this slice: no benefit counted' end,
            case when effects_ci_spanning_zero is not null
                then 'the 95% CI includes 0 for ' || replace(effects_ci_spanning_zero, '; ', ' and ') end
        ), '') as confidence_reason
    from {{ ref('kpi_roi') }}
    where estimation_method = 'phillips'
),

cells as (
    select
        {{ serving_mart_slice_columns() }},
        {{ serving_pick('roi', 'estimate') }} as roi_pct,
        {{ serving_pick('roi', 'roi_pct_conservative') }} as roi_conservative_pct,
        {{ serving_pick('roi', 'roi_pct_after_offsets') }} as roi_after_offsets_pct,
        {{ serving_pick('roi', 'benefit_cost_ratio') }} as benefit_cost_ratio,
        {{ serving_pick('roi', 'benefit_cost_ratio_conservative') }} as conservative_benefit_cost_ratio,
        {{ serving_pick('roi', 'payback_months') }} as payback_months,
        {{ serving_pick('roi', 'fully_loaded_cost') }} as fully_loaded_cost_amount,
        {{ serving_pick('roi', 'net_cost_after_offsets') }} as net_cost_after_offsets_amount,
        {{ serving_pick('roi', 'monetary_benefits') }} as monetary_benefits_amount,
        {{ serving_pick('roi', 'monetary_benefits_conservative') }} as monetary_benefits_conservative_amount,
        {{ serving_pick('roi', 'currency', dbt.type_string()) }} as currency,
        {{ serving_pick('roi', 'n', 'bigint') }} as n_participants,
        {{ serving_pick('roi', 'n_completers', 'bigint') }} as n_completers,
        {{ serving_headline('roi', flagged='not_confident', flag_reason='confidence_reason') }}
    from rows_
    group by all
)

select
    {{ serving_slice_columns('slices') }},
    cast('phillips' as {{ dbt.type_string() }}) as estimation_method,
    cells.roi_pct,
    cells.roi_conservative_pct,
    cells.roi_after_offsets_pct,
    cells.benefit_cost_ratio,
    cells.conservative_benefit_cost_ratio,
    cells.payback_months,
    cells.fully_loaded_cost_amount,
    cells.net_cost_after_offsets_amount,
    cells.monetary_benefits_amount,
    cells.monetary_benefits_conservative_amount,
    coalesce(cells.currency, parameters.currency) as currency,
    cells.n_participants,
    cells.n_completers,
    {{ serving_status('cells', 'participants with training costs') }}
from slices
cross join parameters
left join cells on {{ serving_slice_join('slices', 'cells') }}
