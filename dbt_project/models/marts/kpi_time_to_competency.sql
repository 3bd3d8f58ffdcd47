-- Time-to-competency (docs/measurement.md), Kaplan-Meier per slice over
-- int_time_to_competency: days from the start anchor to the first competency event;
-- people not yet competent are censored at the data end or the day they left, never
-- dropped. Published: the KM median (smallest day at which the survival - the share not
-- yet competent - falls to 0.5 or below; null when it never does) and the share competent
-- by each of competency.horizons_days, 1 - S(h), with a Greenwood 95% interval (plain,
-- clipped to 0..100). The period is the year of the anchor.
{%- set grains = var('kpi_slice_grains', none) %}

with episodes as (
    select * from {{ ref('int_time_to_competency') }}
),

horizons as (
    select cast(value as integer) as horizon_days
    from {{ ref('stg_config__parameter_lists') }}
    where parameter = 'competency.horizons_days'
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

timed_episodes as (
    select
        {{ kpi_input_dimensions('episodes', period_of('episodes.anchor_date')) }},
        episodes.worker_id,
        episodes.days_observed,
        case when episodes.is_competent then 1 else 0 end as is_event
    from episodes
    where episodes.days_observed >= 0
),

slice_rows as (
    {{ kpi_slice_rows('timed_episodes', ['worker_id', 'days_observed', 'is_event'], grains=grains) }}
),

slice_cells as (
    select
        {{ kpi_slice_key() }},
        count(distinct worker_id) as n_people,
        count(*) as n_episodes,
        sum(is_event) as n_events
    from slice_rows
    group by {{ kpi_slice_key() }}
),

{{ complementary_suppression('slice_cells', 'n_people', grains=grains, name='slice_counts') }},

-- d events and `leaving` episodes (events + censored) at each observed day
event_times as (
    select
        {{ kpi_slice_key() }},
        days_observed,
        sum(is_event) as events,
        count(*) as leaving
    from slice_rows
    group by {{ kpi_slice_key() }}, days_observed
),

at_risk as (
    select
        event_times.*,
        sum(leaving) over (
            partition by {{ kpi_slice_key() }}
            order by days_observed desc
            rows between unbounded preceding and current row
        ) as n_at_risk
    from event_times
),

-- S(t) = prod over event days <= t of (1 - d/n); Greenwood: var S = S^2 * sum d / (n (n - d))
steps as (
    select
        at_risk.*,
        sum(case when events > 0 and events < n_at_risk then ln(1.0 - cast(events as double) / n_at_risk) else 0 end)
            over running as log_survival,
        max(case when events > 0 and events >= n_at_risk then 1 else 0 end) over running as is_exhausted,
        sum(case when events > 0 and events < n_at_risk
            then cast(events as double) / (n_at_risk * (n_at_risk - events)) else 0 end) over running as greenwood_sum
    from at_risk
    window running as (
        partition by {{ kpi_slice_key() }}
        order by days_observed
        rows between unbounded preceding and current row
    )
),

survival as (
    select
        steps.*,
        case when is_exhausted = 1 then 0.0 else exp(log_survival) end as survival
    from steps
),

medians as (
    select
        {{ kpi_slice_key() }},
        min(days_observed) as median_days
    from survival
    where events > 0 and survival <= 0.5
    group by {{ kpi_slice_key() }}
),

-- S(h): the survival after the last day at or before the horizon (1 before any event)
survival_at_horizons as (
    select
        {{ kpi_slice_key('slice_counts') }},
        horizons.horizon_days,
        coalesce(last_step.survival, 1.0) as survival,
        coalesce(last_step.greenwood_sum, 0.0) as greenwood_sum
    from slice_counts
    cross join horizons
    left join (
        select survival.*, horizons.horizon_days
        from survival
        inner join horizons
            on survival.days_observed <= horizons.horizon_days
        qualify row_number() over (
            partition by {{ kpi_slice_key('survival') }}, horizons.horizon_days
            order by survival.days_observed desc
        ) = 1
    ) as last_step
        on {{ kpi_slice_join('slice_counts', 'last_step') }}
        and horizons.horizon_days = last_step.horizon_days
),

estimates as (
    select
        cast('time_to_competency_median_days' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('slice_counts') }},
        cast('days' as {{ dbt.type_string() }}) as unit,
        cast(null as integer) as horizon_days,
        slice_counts.n_people,
        slice_counts.n_episodes,
        slice_counts.n_events,
        slice_counts.is_suppressed,
        cast(medians.median_days as double) as estimate_value,
        cast(null as double) as ci_low_value,
        cast(null as double) as ci_high_value
    from slice_counts
    left join medians
        on {{ kpi_slice_join('slice_counts', 'medians') }}
    union all
    select
        'competent_by_' || cast(survival_at_horizons.horizon_days as {{ dbt.type_string() }}) || '_days' as kpi,
        {{ kpi_slice_key('slice_counts') }},
        cast('pct' as {{ dbt.type_string() }}) as unit,
        survival_at_horizons.horizon_days,
        slice_counts.n_people,
        slice_counts.n_episodes,
        slice_counts.n_events,
        slice_counts.is_suppressed,
        100.0 * (1.0 - survival_at_horizons.survival) as estimate_value,
        100.0 * greatest(0.0, 1.0 - (survival_at_horizons.survival
            + {{ ci_z() }} * survival_at_horizons.survival * sqrt(survival_at_horizons.greenwood_sum))) as ci_low_value,
        100.0 * least(1.0, 1.0 - (survival_at_horizons.survival
            - {{ ci_z() }} * survival_at_horizons.survival * sqrt(survival_at_horizons.greenwood_sum))) as ci_high_value
    from slice_counts
    inner join survival_at_horizons
        on {{ kpi_slice_join('slice_counts', 'survival_at_horizons') }}
),

published as (
    select
        estimates.kpi,
        {{ kpi_slice_key('estimates') }},
        cast('kaplan_meier' as {{ dbt.type_string() }}) as estimation_method,
        cast(3 as integer) as evaluation_level,
        estimates.unit,
        {{ published('estimates.n_events', 'estimates.is_suppressed') }} as numerator,
        {{ published('estimates.n_episodes', 'estimates.is_suppressed') }} as denominator,
        {{ published('estimates.n_episodes', 'estimates.is_suppressed', 'bigint') }} as n,
        {{ count_band('estimates.n_people', 'estimates.is_suppressed') }} as n_band,
        {{ published('estimates.estimate_value', 'estimates.is_suppressed') }} as estimate,
        {{ published('estimates.ci_low_value', 'estimates.is_suppressed') }} as ci_low,
        {{ published('estimates.ci_high_value', 'estimates.is_suppressed') }} as ci_high,
        estimates.horizon_days,
        {{ published('estimates.n_events', 'estimates.is_suppressed', 'bigint') }} as n_competent,
        {{ published('estimates.n_episodes - estimates.n_events', 'estimates.is_suppressed', 'bigint') }} as n_censored,
        false as is_flagged,
        cast(null as {{ dbt.type_string() }}) as flag_reason,
        parameters.definition_version,
        estimates.is_suppressed as suppressed
    from estimates
    cross join parameters
)

select * from published
