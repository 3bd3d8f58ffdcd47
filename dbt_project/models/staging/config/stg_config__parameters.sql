-- config/parameters.yml as one typed row (the organisation's settings: organisation.*, D136). Every model that needs a window, threshold
-- or money factor joins this row instead of carrying a literal, so a unit test can
-- feed its own parameters and the warehouse records which ones each build used.
{{ config(materialized='reusable_table') }}

with parameters as (
    select
        {{ param_literal('definition_version', dbt.type_string()) }} as definition_version,
        {{ org_param('min_cell_size', 'integer') }} as min_cell_size,
        {{ org_param('currency', dbt.type_string()) }} as currency,

        {{ param_literal('windows.pre_months', 'integer') }} as pre_months,
        {{ param_literal('windows.post_start_months', 'integer') }} as post_start_months,
        {{ param_literal('windows.post_end_months', 'integer') }} as post_end_months,
        {{ param_literal('windows.min_months_in_window', 'integer') }} as min_months_in_window,
        {{ param_literal('windows.mobility_months', 'integer') }} as mobility_months,
        {{ param_literal('windows.retention_months', 'integer') }} as retention_months,
        {{ param_literal('windows.certification_days', 'integer') }} as certification_days,

        {{ param_literal('matching.controls_per_participant', 'integer') }} as controls_per_participant,
        -- optional: without it every candidate of the cell may be matched (docs/methods.md as written)
        {{ param_literal('matching.caliper_sd', 'double', optional=true) }} as caliper_sd,
        {{ param_literal('matching.max_abs_smd', 'double') }} as max_abs_smd,
        {{ param_literal('matching.max_pretrend_points', 'double') }} as max_pretrend_points,

        {{ param_literal('competency.meets_standard_rating', 'double') }} as competency_meets_standard_rating,
        {{ param_literal('competency.new_hire_days', 'integer') }} as competency_new_hire_days,

        {{ param_literal('nps.detractor_max', 'integer') }} as nps_detractor_max,
        {{ param_literal('nps.promoter_min', 'integer') }} as nps_promoter_min,

        {{ param_literal('impact.winsorise_iqr_multiple', 'double', optional=true) }} as winsorise_iqr_multiple,
        {{ param_literal('impact.min_used_share', 'double') }} as min_used_share,
        {{ param_literal('impact.min_pretrend_months', 'integer') }} as min_pretrend_months,

        {{ param_literal('money.value_per_productivity_pct_per_fte_year', 'double') }} as value_per_productivity_pct_per_fte_year,
        {{ param_literal('money.replacement_cost_share_of_pay', 'double') }} as replacement_cost_share_of_pay,
        {{ param_literal('money.external_hire_cost', 'double') }} as external_hire_cost,
        {{ param_literal('money.internal_move_cost', 'double') }} as internal_move_cost,
        {{ param_literal('money.loaded_wage_multiplier', 'double') }} as loaded_wage_multiplier,
        {{ param_literal('money.working_hours_per_year', 'double') }} as working_hours_per_year,
        {{ param_literal('money.benefit_years_long_programs', 'double') }} as benefit_years_long_programs,

        {{ param_literal('quality.max_quarantine_share', 'double') }} as max_quarantine_share,

        {{ org_param('fiscal_year_start_month', 'integer', default=1) }} as fiscal_year_start_month,
        {{ org_param('timezone', dbt.type_string(), default='UTC') }} as timezone
)

select * from parameters
