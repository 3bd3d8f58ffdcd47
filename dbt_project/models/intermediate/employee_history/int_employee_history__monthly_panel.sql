-- Worker × month from the worker's first spell to the end of the data: the spell in
-- force at month end, the productivity index and the manager rating of the month.
-- depends_on: {{ ref('stg_config__tenure_bands') }}
with spells as (
    select * from {{ ref('int_employee_history__spells') }}
),

calendar_months as (
    select * from {{ ref('int_calendar_months') }}
),

productivity as (
    select * from {{ ref('stg_performance__productivity') }}
),

ratings as (
    select * from {{ ref('stg_performance__ratings') }}
),

-- index = value / mean(value) of the same metric and month × 100: unit-free, no seasonality
productivity_indexed as (
    select
        worker_id,
        period,
        metric,
        value as productivity_value,
        case
            when {{ ti_exact_avg('value', 'over (partition by metric, period)') }} > 0
                then 100.0 * value / {{ ti_exact_avg('value', 'over (partition by metric, period)') }}
        end as productivity_index
    from productivity
),

productivity_per_month as (
    -- one metric per job family; a worker who changed family mid-month keeps the first
    select *
    from productivity_indexed
    qualify row_number() over (partition by worker_id, period order by metric nulls last) = 1
),

manager_ratings_per_month as (
    select
        worker_id,
        {{ month_of('evaluation_date') }} as period,
        avg(cast(rating as double)) as manager_rating
    from ratings
    where evaluation_type = 'manager_rating'
    group by 1, 2
),

spells_at_month_end as (
    select
        spells.*,
        calendar_months.month_start,
        calendar_months.month_end
    from spells
    inner join calendar_months
        on calendar_months.month_end >= spells.valid_from
        and calendar_months.month_end <= spells.valid_to
),

panel as (
    select
        spells_at_month_end.worker_id,
        spells_at_month_end.month_start as period,
        spells_at_month_end.month_end,
        spells_at_month_end.employment_status = 'active' as is_employed,
        spells_at_month_end.position_spell_key,
        spells_at_month_end.employment_episode,
        spells_at_month_end.job_profile,
        spells_at_month_end.job_family,
        spells_at_month_end.management_level,
        spells_at_month_end.department,
        spells_at_month_end.manager_id,
        spells_at_month_end.region,
        spells_at_month_end.fte_pct,
        spells_at_month_end.base_pay,
        spells_at_month_end.currency as pay_currency,
        spells_at_month_end.employment_start_date,
        cast({{ dbt.datediff('spells_at_month_end.employment_start_date', 'spells_at_month_end.month_end', 'day') }} as double) / 365.25
            as tenure_years,
        productivity_per_month.metric,
        productivity_per_month.productivity_value,
        productivity_per_month.productivity_index,
        manager_ratings_per_month.manager_rating
    from spells_at_month_end
    left join productivity_per_month
        on spells_at_month_end.worker_id = productivity_per_month.worker_id
        and spells_at_month_end.month_start = productivity_per_month.period
    left join manager_ratings_per_month
        on spells_at_month_end.worker_id = manager_ratings_per_month.worker_id
        and spells_at_month_end.month_start = manager_ratings_per_month.period
),

-- the band from a CASE compiled from matching.tenure_bands_years (macros/impact.sql), the labels
-- of stg_config__tenure_bands: a range join of every panel row to the bands cost as much as the
-- productivity join (D123)
panel_with_tenure_band as (
    select
        panel.*,
        case when panel.is_employed then {{ tenure_band_of('panel.tenure_years') }} end as tenure_band
    from panel
)

select * from panel_with_tenure_band
