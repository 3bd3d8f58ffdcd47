-- Event study of productivity (docs/methods.md, "Event study"): for each treated episode
-- with matched controls, by month k relative to the start month (k = -pre_months ..
-- post_end_months + 3, reference k = -1), the participant's change in the productivity
-- index since k = -1 minus the weighted mean of the same change over its controls (index
-- points). Controls are censored at their own first enrolment: no month at or after it.
-- Per (program type, k) and overall: mean of the per-episode differences, se = sd/sqrt(n),
-- 95% CI; small cells suppressed with their complements, one population per month k.
-- The panel is joined once, by worker and period range (people × 19 months).
{%- set grains = ['overall', 'program_type'] %}

with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

matched_controls as (
    select * from {{ ref('int_impact__matched_controls') }}
),

enrollments as (
    select * from {{ ref('stg_lms__enrollments') }}
),

panel as (
    select * from {{ ref('int_employee_history__monthly_panel') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

-- the months of the study: -pre_months .. post_end_months + 3 (the program's own months)
event_window as (
    select
        -parameters.pre_months as first_relative_month,
        parameters.post_end_months + 3 as last_relative_month
    from parameters
),

-- one episode's controls weigh 1 in total: match_weight, tied controls sharing it (D70)
controls as (
    select
        enrollment_id,
        control_worker_id,
        cast(match_weight as double) as match_weight
    from matched_controls
),

episodes as (
    select
        learning_history.enrollment_id,
        learning_history.worker_id,
        coalesce(learning_history.program_type, 'unknown') as program_type,
        learning_history.start_month
    from learning_history
    where learning_history.enrollment_id in (select enrollment_id from matched_controls)
),

-- a worker's first enrolment in any program: the earlier of enrolled_at and started_at
-- (the comparison pool is "not enrolled by the start month" on the same dates)
first_enrolments as (
    select
        worker_id,
        {{ month_of('min(least(enrolled_at, started_at))') }} as first_enrolment_month
    from enrollments
    group by worker_id
),

measured_people as (
    select
        episodes.enrollment_id,
        episodes.worker_id as measured_worker_id,
        'participant' as role,
        cast(1.0 as double) as match_weight,
        cast(null as date) as censored_from_month
    from episodes
    union all
    select
        controls.enrollment_id,
        controls.control_worker_id as measured_worker_id,
        'control' as role,
        controls.match_weight,
        first_enrolments.first_enrolment_month as censored_from_month
    from controls
    left join first_enrolments
        on controls.control_worker_id = first_enrolments.worker_id
),

people_windows as (
    select
        measured_people.*,
        episodes.start_month,
        {{ add_to_date('month', 'event_window.first_relative_month', 'episodes.start_month') }} as window_start_month,
        {{ add_to_date('month', 'event_window.last_relative_month', 'episodes.start_month') }} as window_end_month
    from measured_people
    inner join episodes
        on measured_people.enrollment_id = episodes.enrollment_id
    cross join event_window
),

-- the one join to the panel; a control's months from its own first enrolment on are left out
person_months as (
    select
        people_windows.enrollment_id,
        people_windows.measured_worker_id,
        people_windows.role,
        people_windows.match_weight,
        cast({{ dbt.datediff('people_windows.start_month', 'panel.period', 'month') }} as integer) as relative_month,
        panel.productivity_index
    from people_windows
    inner join panel
        on people_windows.measured_worker_id = panel.worker_id
        and panel.period between people_windows.window_start_month and people_windows.window_end_month
    where panel.productivity_index is not null
      and (people_windows.censored_from_month is null or panel.period < people_windows.censored_from_month)
),

-- Y_k - Y_-1 (levels, index points); people without a reference month drop out
changes as (
    select *
    from (
        select
            person_months.*,
            person_months.productivity_index - max(case when person_months.relative_month = -1
                then person_months.productivity_index end)
                over (partition by person_months.enrollment_id, person_months.measured_worker_id)
                as change_from_reference
        from person_months
    ) as with_reference
    where change_from_reference is not null
),

-- weighted mean over the controls measured at k (their weights renormalised to 1)
control_means as (
    select
        enrollment_id,
        relative_month,
        {{ exact_sum('match_weight * change_from_reference') }} / {{ exact_sum('match_weight') }}
            as control_change_from_reference
    from changes
    where role = 'control'
    group by enrollment_id, relative_month
),

episode_months as (
    select
        episodes.enrollment_id,
        episodes.worker_id,
        episodes.program_type,
        changes.relative_month,
        changes.change_from_reference - control_means.control_change_from_reference as episode_difference
    from changes
    inner join control_means
        on changes.enrollment_id = control_means.enrollment_id
        and changes.relative_month = control_means.relative_month
    inner join episodes
        on changes.enrollment_id = episodes.enrollment_id
    where changes.role = 'participant'
),

-- the controls behind each estimate (distinct workers, n_comparison)
comparison_months as (
    select
        episodes.program_type,
        changes.relative_month,
        changes.measured_worker_id as control_worker_id
    from changes
    inner join episode_months
        on changes.enrollment_id = episode_months.enrollment_id
        and changes.relative_month = episode_months.relative_month
    inner join episodes
        on changes.enrollment_id = episodes.enrollment_id
    where changes.role = 'control'
),

{% set aggregates %}
        count(distinct worker_id) as n_people,
        count(*) as n_episodes,
        {{ exact_avg('episode_difference') }} as mean_difference,
        stddev_samp(episode_difference) as sd_difference
{% endset %}

sliced_cells as (
    {{ kpi_sliced('episode_months', aggregates, keys=['relative_month'], grains=grains) }}
),

{{ complementary_suppression('sliced_cells', 'n_people', keys=['relative_month'], grains=grains, name='sliced') }},

comparisons as (
    {{ kpi_sliced('comparison_months', 'count(distinct control_worker_id) as n_comparison',
        keys=['relative_month'], grains=grains) }}
),

estimates as (
    select
        sliced.*,
        comparisons.n_comparison,
        -- the reference month is 0 by construction: no spread
        case when sliced.relative_month = -1 then 0.0 else sliced.sd_difference / sqrt(sliced.n_episodes) end
            as se_difference
    from sliced
    left join comparisons
        on {{ kpi_slice_join('sliced', 'comparisons') }}
        and sliced.relative_month = comparisons.relative_month
),

published as (
    select
        cast('productivity_event_study' as {{ dbt.type_string() }}) as kpi,
        {{ kpi_slice_key('estimates') }},
        cast(estimates.relative_month as integer) as relative_month,
        cast('did_matched' as {{ dbt.type_string() }}) as estimation_method,
        cast(4 as integer) as evaluation_level,
        cast('index_points' as {{ dbt.type_string() }}) as unit,
        {{ published('estimates.n_episodes', 'estimates.is_suppressed', 'bigint') }} as n,
        {{ count_band('estimates.n_people', 'estimates.is_suppressed') }} as n_band,
        {{ published('estimates.n_comparison', 'estimates.is_suppressed', 'bigint') }} as n_comparison,
        {{ published('estimates.mean_difference', 'estimates.is_suppressed') }} as estimate,
        {{ published('estimates.mean_difference - ' ~ ci_z() ~ ' * estimates.se_difference',
            'estimates.is_suppressed') }} as ci_low,
        {{ published('estimates.mean_difference + ' ~ ci_z() ~ ' * estimates.se_difference',
            'estimates.is_suppressed') }} as ci_high,
        {{ published('estimates.se_difference', 'estimates.is_suppressed') }} as se,
        estimates.relative_month = -1 as is_reference_month,
        false as is_flagged,
        parameters.definition_version,
        estimates.is_suppressed as suppressed
    from estimates
    cross join parameters
)

select * from published
