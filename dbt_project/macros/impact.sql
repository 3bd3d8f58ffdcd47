{#
  Internal mobility definition variants (docs/measurement.md: "keep definition variants
  as a dimension"). `any_move` is the headline definition of docs/methods.md; the others
  count one kind of move. `reskilling_landed` is a job-family change into the target job
  family of the participant's program (for controls: of the participant they stand in
  for), so it is published for reskilling programs only.
  move_condition is evaluated on int_internal_moves (alias internal_moves) joined to the
  person's outcome window (alias people_windows).
#}
{% macro mobility_variants() %}
    {{ return([
        {'variant': 'any_move', 'kpi': 'internal_mobility', 'column': 'mobility',
         'move_condition': 'internal_moves.is_mobility_move'},
        {'variant': 'promotion', 'kpi': 'internal_mobility_promotion', 'column': 'promotion',
         'move_condition': 'internal_moves.is_promotion'},
        {'variant': 'job_family_change', 'kpi': 'internal_mobility_job_family_change', 'column': 'job_family_change',
         'move_condition': 'internal_moves.is_job_family_change'},
        {'variant': 'reskilling_landed', 'kpi': 'internal_mobility_reskilling_landed', 'column': 'reskilling_landed',
         'move_condition': 'internal_moves.is_job_family_change and internal_moves.job_family = people_windows.target_job_family',
         'program_type': 'reskilling'},
        {'variant': 'title_change', 'kpi': 'internal_mobility_title_change', 'column': 'title_change',
         'move_condition': 'internal_moves.is_title_change'},
    ]) }}
{% endmacro %}


{# Balance covariates compared between participants and the comparison pool (SMD):
   name, the participant's column in int_learning_history, the control's column in
   int_impact__matched_controls, the candidate's column in int_impact__candidate_baselines. #}
{% macro balance_covariates() %}
    {{ return([
        {'covariate': 'baseline_productivity_index', 'participant': 'baseline_productivity_index',
         'control': 'control_baseline_productivity_index', 'candidate': 'baseline_productivity_index'},
        {'covariate': 'tenure_years', 'participant': 'tenure_years',
         'control': 'control_tenure_years', 'candidate': 'tenure_years'},
        {'covariate': 'management_level', 'participant': 'management_level',
         'control': 'control_management_level', 'candidate': 'management_level'},
        {'covariate': 'baseline_manager_rating', 'participant': 'baseline_manager_rating',
         'control': 'control_baseline_manager_rating', 'candidate': 'baseline_manager_rating'},
        {'covariate': 'early_pre_productivity_index', 'participant': 'early_pre_mean_index',
         'control': 'control_early_pre_mean_index', 'candidate': 'early_pre_mean_index'},
        {'covariate': 'late_pre_productivity_index', 'participant': 'late_pre_mean_index',
         'control': 'control_late_pre_mean_index', 'candidate': 'late_pre_mean_index'},
    ]) }}
{% endmacro %}


{# Aggregates of the participant side of a matched rate difference over `evaluated_people`
   rows (one per episode × measured person; outcome columns filled on participant rows only).
   The comparison side is the controls' Kaplan-Meier (km_control_rates). #}
{% macro did_rate_aggregates() %}
        count(distinct case when role = 'participant' then measured_worker_id end) as n_people,
        count(participant_outcome) as n_episodes,
        count(distinct case when role = 'control' and is_employed_at_exit then measured_worker_id end)
            as n_comparison,
        sum(participant_outcome) as participants_with_outcome,
        avg(participant_outcome) as participant_rate
{% endmacro %}


{# Controls' follow-up, month by month, for a Kaplan-Meier of the share with the event
   (D68): `relation` has one row per control × kpi with weight (match_weight), event_offset
   and censor_offset (macros month_offset; interval of the own enrolment, 0 = enrolled by
   the participant's exit), window_months, is_employed_at_exit, and the slice dimensions.
   A control is at risk in interval m while m < censor_offset and m <= its event interval;
   an event observed before the own enrolment counts. Pre-aggregated at the finest
   dimensions, then sliced; `keys` are kept (e.g. kpi). #}
{% macro km_control_rates(relation, keys, grains=none) %}
km__risk_rows as (
    select
        program_type, method, program_id, cohort, department, region, period,
        {{ keys | join(', ') }},
        months.month_offset,
        {{ exact_sum('weight') }} as at_risk,
        {{ exact_sum('case when event_offset = months.month_offset then weight else 0 end') }} as events
    from {{ relation }}
    inner join range(1, 61) as months(month_offset)
        on months.month_offset <= {{ relation }}.window_months
        and ({{ relation }}.censor_offset is null or months.month_offset < {{ relation }}.censor_offset)
        and ({{ relation }}.event_offset is null or months.month_offset <= {{ relation }}.event_offset)
    where {{ relation }}.is_employed_at_exit
    group by program_type, method, program_id, cohort, department, region, period, {{ keys | join(', ') }},
        months.month_offset
),

km__sliced as (
    {{ kpi_sliced('km__risk_rows', exact_sum('at_risk') ~ ' as n_at_risk, ' ~ exact_sum('events') ~ ' as n_events',
        keys=keys + ['month_offset'], grains=grains) }}
),

km as (
    select
        {{ kpi_slice_key() }},
        {{ keys | join(', ') }},
        case
            when max(case when n_events >= n_at_risk then 1 else 0 end) = 1 then 0.0
            else exp({{ exact_sum('case when n_at_risk > n_events then ln(1 - n_events / n_at_risk) else 0 end') }})
        end as km_survival,
        {{ exact_sum('case when n_at_risk > n_events then n_events / (n_at_risk * (n_at_risk - n_events)) else 0 end') }}
            as greenwood_sum,
        max(case when month_offset = 1 then n_at_risk end) as n_comparison_weight
    from km__sliced
    group by {{ kpi_slice_key() }}, {{ keys | join(', ') }}
)
{% endmacro %}


{# The published columns of a matched rate difference in points (docs/methods.md):
   participant rate minus the controls' Kaplan-Meier rate; 95% CI from the binomial
   variance of the participants and Greenwood's variance of the Kaplan-Meier. `rates` has
   participant_rate, comparison_rate, mean_difference, se_difference. #}
{% macro did_rate_published(sliced, rates) %}
        cast('did_matched' as {{ dbt.type_string() }}) as estimation_method,
        cast(4 as integer) as evaluation_level,
        cast('pp' as {{ dbt.type_string() }}) as unit,
        {{ published(sliced ~ '.participants_with_outcome', sliced ~ '.is_suppressed') }} as numerator,
        {{ published(sliced ~ '.n_episodes', sliced ~ '.is_suppressed') }} as denominator,
        {{ published(sliced ~ '.n_episodes', sliced ~ '.is_suppressed', 'bigint') }} as n,
        {{ count_band(sliced ~ '.n_people', sliced ~ '.is_suppressed') }} as n_band,
        {{ published(sliced ~ '.n_comparison', sliced ~ '.is_suppressed', 'bigint') }} as n_comparison,
        {{ published('100.0 * ' ~ rates ~ '.mean_difference', sliced ~ '.is_suppressed') }} as estimate,
        {{ published('100.0 * (' ~ rates ~ '.mean_difference - ' ~ ci_z() ~ ' * ' ~ rates ~ '.se_difference)',
            sliced ~ '.is_suppressed') }} as ci_low,
        {{ published('100.0 * (' ~ rates ~ '.mean_difference + ' ~ ci_z() ~ ' * ' ~ rates ~ '.se_difference)',
            sliced ~ '.is_suppressed') }} as ci_high,
        {{ published('100.0 * ' ~ rates ~ '.se_difference', sliced ~ '.is_suppressed') }} as se,
        {{ published('100.0 * ' ~ sliced ~ '.participant_rate', sliced ~ '.is_suppressed') }} as participant_rate_pct,
        {{ published('100.0 * ' ~ rates ~ '.comparison_rate', sliced ~ '.is_suppressed') }} as comparison_rate_pct,
{% endmacro %}


{# participant rate vs the controls' Kaplan-Meier: `survival_is_rate` true when the KPI is the
   share without the event (retention), false when it is the share with it. #}
{% macro km_difference(sliced, km, survival_is_rate) -%}
        case when {{ survival_is_rate }} then {{ km }}.km_survival else 1 - {{ km }}.km_survival end as comparison_rate,
        {{ sliced }}.participant_rate
            - case when {{ survival_is_rate }} then {{ km }}.km_survival else 1 - {{ km }}.km_survival end
            as mean_difference,
        sqrt({{ sliced }}.participant_rate * (1 - {{ sliced }}.participant_rate) / {{ sliced }}.n_episodes
            + {{ km }}.km_survival * {{ km }}.km_survival * {{ km }}.greenwood_sum) as se_difference
{%- endmacro %}


{# The pre window's two halves (the pre-period lags of docs/methods.md): the early half is
   its first floor(pre_months / 2) months. `windows` has pre_window_start_month and
   pre_window_end_month; `parameters` (stg_config__parameters) must be in scope. #}
{% macro late_pre_start(windows) -%}
    {{ add_to_date('month', 'floor(parameters.pre_months / 2.0)', windows ~ '.pre_window_start_month') }}
{%- endmacro %}

{% macro early_pre_case(panel, windows) -%}
    case
        when {{ panel }}.period >= {{ windows }}.pre_window_start_month
            and {{ panel }}.period < {{ late_pre_start(windows) }}
            then {{ panel }}.productivity_index
    end
{%- endmacro %}

{% macro late_pre_case(panel, windows) -%}
    case
        when {{ panel }}.period >= {{ late_pre_start(windows) }}
            and {{ panel }}.period <= {{ windows }}.pre_window_end_month
            then {{ panel }}.productivity_index
    end
{%- endmacro %}


{# Matching distance between a participant (p) and a candidate (c) (D70, D72): the root mean
   square of the standardised differences of the matching covariates (a Mahalanobis distance
   with a diagonal scale): the two pre-period lags of the productivity index, the mean
   manager rating over the pre window and the tenure in years, each divided by the pool's
   spread at the start month (`scale_<column>` on the candidate row). A covariate missing on
   either side counts as one standard deviation apart. #}
{% macro matching_covariates() %}
    {{ return([
        ('early_pre_mean_index', 'early_pre_mean_index'),
        ('late_pre_mean_index', 'late_pre_mean_index'),
        ('baseline_manager_rating', 'baseline_manager_rating'),
        ('tenure_years', 'tenure_years'),
    ]) }}
{% endmacro %}

{% macro matching_distance(p, c) -%}
    {%- set covariates = matching_covariates() -%}
    sqrt((
        {%- for participant_column, candidate_column in covariates %}
        coalesce(
            (({{ p }}.{{ participant_column }} - {{ c }}.{{ candidate_column }}) / nullif({{ c }}.scale_{{ candidate_column }}, 0))
            * (({{ p }}.{{ participant_column }} - {{ c }}.{{ candidate_column }}) / nullif({{ c }}.scale_{{ candidate_column }}, 0)),
            case when {{ p }}.{{ participant_column }} = {{ c }}.{{ candidate_column }} then 0.0 else 1.0 end,
            1.0)
        {{- ' +' if not loop.last }}
        {%- endfor %}
    ) / {{ covariates | length }}.0)
{%- endmacro %}


{# The follow-up interval (1..max_months) of an event after a start date: interval m is
   (start + m-1 months, start + m months]. Null when the event is null. Events are
   filtered to the window by the caller. #}
{% macro month_offset(start_date, event_date, max_months) -%}
    case when {{ event_date }} is not null then
        least({{ max_months }}, greatest(1,
            {{ ti_month_diff(start_date, event_date) }}
            + case when {{ event_date }} > {{ add_to_date('month', ti_month_diff(start_date, event_date), start_date) }}
                then 1 else 0 end))
    end
{%- endmacro %}


{# The exclusion funnel of one impact estimate, sliced (int_impact__episode_funnel):
   `exclusion` is the funnel column of the estimate (null = used). #}
{% macro funnel_aggregates(exclusion) -%}
        count(*) as n_participants,
        count(case when {{ exclusion }} = 'not_yet_evaluable' then 1 end) as n_not_yet_evaluable,
        count(case when {{ exclusion }} in ('not_employed_at_start', 'no_baseline') then 1 end) as n_excluded_no_baseline,
        count(case when {{ exclusion }} = 'unmatched' then 1 end) as n_unmatched,
        count(case when {{ exclusion }} not in ('not_yet_evaluable', 'not_employed_at_start', 'no_baseline', 'unmatched')
            then 1 end) as n_excluded_outcome,
        count(case when {{ exclusion }} is null then 1 end) as n_used
{%- endmacro %}

{% macro funnel_sliced(exclusion, grains=none) %}
    {{ kpi_sliced('funnel_input', funnel_aggregates(exclusion), grains=grains) }}
{% endmacro %}


{# The funnel's published columns, and the low-used-share check, for a mart that joined the
   sliced funnel as `funnel` and has `parameters` in scope. #}
{% macro funnel_published(suppressed) -%}
        {{ published('funnel.n_participants', suppressed, 'bigint') }} as n_participants,
        {{ published('funnel.n_not_yet_evaluable', suppressed, 'bigint') }} as n_not_yet_evaluable,
        {{ published('funnel.n_excluded_no_baseline', suppressed, 'bigint') }} as n_excluded_no_baseline,
        {{ published('funnel.n_unmatched', suppressed, 'bigint') }} as n_unmatched,
        {{ published('funnel.n_excluded_outcome', suppressed, 'bigint') }} as n_excluded_outcome,
        {{ published('funnel.n_used', suppressed, 'bigint') }} as n_used,
        {{ published(used_share(), suppressed) }} as used_share,
{%- endmacro %}

{% macro used_share() -%}
    cast(funnel.n_used as double) / nullif(funnel.n_participants - funnel.n_not_yet_evaluable, 0)
{%- endmacro %}

{# flag reasons joined with '; ' (null when none): each item a SQL expression giving text or null #}
{% macro flag_reasons(items) -%}
    nullif(concat_ws('; ', {{ items | join(', ') }}), '')
{%- endmacro %}

{% macro low_used_share_reason() -%}
    case when {{ used_share() }} < parameters.min_used_share
        then 'low_used_share: ' || cast({{ ti_round('100 * ' ~ used_share(), 1) }} as {{ dbt.type_string() }}) || '% of evaluable participants used < '
            || cast(round(100 * parameters.min_used_share, 1) as {{ dbt.type_string() }}) || '%'
    end
{%- endmacro %}


{# The tenure band of `years` (matching.tenure_bands_years: [lower, upper) in years, the last
   band open; null below the first edge), as a CASE compiled from the parameters: the same
   labels as stg_config__tenure_bands without joining every panel row to its rows by range. #}
{% macro tenure_band_of(years) -%}
    {%- set edges = param('matching.tenure_bands_years', optional=true) or [] -%}
    {%- if edges -%}
    case
        {%- for edge in edges | reverse %}
        {%- set index = edges | length - loop.index %}
        when {{ years }} >= {{ edge }} then cast('{{ edge }}{{ "-" ~ edges[index + 1] if index + 1 < edges | length else "+" }}' as {{ dbt.type_string() }})
        {%- endfor %}
    end
    {%- else -%}
    cast(null as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
