-- For each treated episode, the k = controls_per_participant candidates nearest within the
-- exact cell (start month × department × management level × job family × tenure band ×
-- matching.exact_attributes), with replacement. Distance: the standardised root mean square
-- difference of the pre-period productivity lags, manager rating and tenure
-- (macros/impact.sql matching_distance, D72), in standard deviations of the pool. Candidates
-- are workers not enrolled in any program by the start month
-- (int_impact__candidate_baselines); each carries its own first enrolment, at which the
-- outcome models censor it.
-- Ties (D70): the candidates strictly nearer than the k-th smallest distance weigh 1 each;
-- those tied at it share the remaining slots equally; match_weight = that / slots used,
-- so one episode's weights sum to 1. No published figure depends on the pseudonym (the
-- old tie-break) or on row order. With matching.caliper_sd set, candidates
-- further away are dropped (a participant with none left is unmatched and counted).
-- Cost (D123): a cell's pairs are enumerated twice, streaming, and never sorted: once for
-- each episode's k-th smallest distance (a top-k aggregate), once keeping the candidates at
-- or within it; only those few are ranked. Ranking every pair of a cell sorted hundreds of
-- millions of rows at a million employees.
-- depends_on: {{ ref('stg_hris__worker_attributes') }}
{%- set exact_attributes = param('matching.exact_attributes', optional=true) or [] %}

with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

candidate_baselines as (
    select * from {{ ref('int_impact__candidate_baselines') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),
{%- if exact_attributes %}

worker_attributes as (
    select * from {{ ref('stg_hris__worker_attributes') }}
    where attribute in ('{{ exact_attributes | join("', '") }}')
),

-- each worker's matched attributes as of the start month ('unknown' when not delivered)
attributes_at_start as (
    select
        people.worker_id,
        people.start_month,
        {%- for attribute in exact_attributes %}
        coalesce(max(case when worker_attributes.attribute = '{{ attribute }}' then worker_attributes.{{ adapter.quote('value') }} end), 'unknown')
            as attribute_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select worker_id, start_month from learning_history where is_treated
        union
        select worker_id, start_month from candidate_baselines
    ) as people
    left join worker_attributes
        on people.worker_id = worker_attributes.worker_id
        and (worker_attributes.valid_from is null or worker_attributes.valid_from <= people.start_month)
        and (worker_attributes.valid_to is null or worker_attributes.valid_to > people.start_month)
    group by people.worker_id, people.start_month
),
{%- endif %}

treated_episodes as (
    select
        enrollment_id,
        worker_id,
        start_month,
        department,
        management_level,
        job_family,
        tenure_band,
        baseline_productivity_index,
        early_pre_mean_index,
        late_pre_mean_index,
        baseline_manager_rating,
        tenure_years
    from learning_history
    where is_treated
      and is_employed_at_start
      and baseline_productivity_index is not null
),

-- every (participant, candidate) pair of a cell: enumerated by each of the two passes
-- below, never stored
cell_candidates as {{ ti_not_materialized() }} (
    select
        treated_episodes.enrollment_id,
        treated_episodes.worker_id,
        candidate_baselines.worker_id as control_worker_id,
        treated_episodes.start_month,
        treated_episodes.baseline_productivity_index,
        candidate_baselines.baseline_productivity_index as control_baseline_productivity_index,
        candidate_baselines.early_pre_mean_index as control_early_pre_mean_index,
        candidate_baselines.late_pre_mean_index as control_late_pre_mean_index,
        candidate_baselines.tenure_years as control_tenure_years,
        candidate_baselines.management_level as control_management_level,
        candidate_baselines.baseline_manager_rating as control_baseline_manager_rating,
        candidate_baselines.first_enrolled_on as control_first_enrolled_on,
        {{ matching_distance('treated_episodes', 'candidate_baselines') }} as baseline_distance
    from treated_episodes
    inner join candidate_baselines
        on treated_episodes.start_month = candidate_baselines.start_month
        and treated_episodes.department = candidate_baselines.department
        and treated_episodes.management_level = candidate_baselines.management_level
        and treated_episodes.job_family = candidate_baselines.job_family
        and treated_episodes.tenure_band = candidate_baselines.tenure_band
    {%- if exact_attributes %}
    inner join attributes_at_start as participant_attributes
        on treated_episodes.worker_id = participant_attributes.worker_id
        and treated_episodes.start_month = participant_attributes.start_month
    inner join attributes_at_start as candidate_attributes
        on candidate_baselines.worker_id = candidate_attributes.worker_id
        and candidate_baselines.start_month = candidate_attributes.start_month
        {%- for attribute in exact_attributes %}
        and participant_attributes.attribute_{{ loop.index }} = candidate_attributes.attribute_{{ loop.index }}
        {%- endfor %}
    {%- endif %}
    -- a participant is never its own control
    where candidate_baselines.worker_id != treated_episodes.worker_id
),

within_caliper as {{ ti_not_materialized() }} (
    select cell_candidates.*
    from cell_candidates
    cross join parameters
    -- optional caliper: a candidate further than this from the participant's baseline is no match
    where parameters.caliper_sd is null
       or cell_candidates.baseline_distance <= parameters.caliper_sd
),

-- pass 1: each episode's number of candidates and its k-th smallest distance (the largest
-- when it has fewer than k)
kth_distances as (
    select
        within_caliper.enrollment_id,
        count(*) as n_candidates,
        {{ ti_kth_smallest('within_caliper.baseline_distance', 'parameters.controls_per_participant') }} as kth_distance
    from within_caliper
    cross join parameters
    group by within_caliper.enrollment_id, parameters.controls_per_participant
),

-- pass 2: the candidates at or within that distance: every one of them is nearer than, or
-- tied with, the k-th, so ranking them alone gives each its rank and tie group over the cell
nearest_candidates as (
    select
        within_caliper.*,
        kth_distances.n_candidates
    from within_caliper
    inner join kth_distances
        on within_caliper.enrollment_id = kth_distances.enrollment_id
    where within_caliper.baseline_distance <= kth_distances.kth_distance
),

ranked_candidates as (
    select
        nearest_candidates.*,
        -- 1 + the number of candidates strictly nearer: the same for every tied candidate
        rank() over (partition by enrollment_id order by baseline_distance nulls last) - 1 as n_nearer,
        count(*) over (partition by enrollment_id, baseline_distance) as n_tied,
        parameters.controls_per_participant
    from nearest_candidates
    cross join parameters
),

matched as (
    select
        ranked_candidates.*,
        -- slots this tie group fills among the k, shared by its members
        least(n_tied, controls_per_participant - n_nearer) as group_slots,
        least(controls_per_participant, n_candidates) as slots_used
    from ranked_candidates
    where n_nearer < controls_per_participant
),

matched_controls as (
    select
        {{ surrogate_key(['enrollment_id', 'control_worker_id']) }} as match_id,
        enrollment_id,
        worker_id,
        control_worker_id,
        cast(n_nearer + 1 as integer) as match_rank,
        cast(group_slots as double) / n_tied / slots_used as match_weight,
        n_tied > group_slots as is_tied_at_boundary,
        start_month,
        baseline_productivity_index,
        control_baseline_productivity_index,
        control_early_pre_mean_index,
        control_late_pre_mean_index,
        baseline_distance,
        control_tenure_years,
        control_management_level,
        control_baseline_manager_rating,
        control_first_enrolled_on
    from matched
)

select * from matched_controls
