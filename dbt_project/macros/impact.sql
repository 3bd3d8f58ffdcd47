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
    ]) }}
{% endmacro %}


{# Aggregates of a matched rate difference over `evaluated_people` rows (one per episode ×
   measured person; outcome columns filled on participant rows only). #}
{% macro did_rate_aggregates() %}
        count(distinct case when role = 'participant' then measured_worker_id end) as n_people,
        count(outcome_difference) as n_episodes,
        count(distinct case when role = 'control' and is_employed_at_exit then measured_worker_id end)
            as n_comparison,
        sum(participant_outcome) as participants_with_outcome,
        avg(participant_outcome) as participant_rate,
        {{ exact_avg('control_rate') }} as comparison_rate,
        {{ exact_avg('outcome_difference') }} as mean_difference,
        stddev_samp(outcome_difference) as sd_difference
{% endmacro %}


{# The published columns of a matched rate difference in points (docs/methods.md):
   mean of y_i - mean(y over i's controls), 95% CI from the standard error of those differences. #}
{% macro did_rate_published(sliced) %}
        cast('did_matched' as varchar) as estimation_method,
        cast(4 as integer) as evaluation_level,
        cast('pp' as varchar) as unit,
        {{ published(sliced ~ '.participants_with_outcome', sliced ~ '.is_suppressed') }} as numerator,
        {{ published(sliced ~ '.n_episodes', sliced ~ '.is_suppressed') }} as denominator,
        {{ published(sliced ~ '.n_episodes', sliced ~ '.is_suppressed', 'bigint') }} as n,
        {{ count_band(sliced ~ '.n_people', sliced ~ '.is_suppressed') }} as n_band,
        {{ published(sliced ~ '.n_comparison', sliced ~ '.is_suppressed', 'bigint') }} as n_comparison,
        {{ published('100.0 * ' ~ sliced ~ '.mean_difference', sliced ~ '.is_suppressed') }} as estimate,
        {{ published('100.0 * (' ~ sliced ~ '.mean_difference - ' ~ ci_z() ~ ' * ' ~ sliced ~ '.sd_difference / sqrt('
            ~ sliced ~ '.n_episodes))', sliced ~ '.is_suppressed') }} as ci_low,
        {{ published('100.0 * (' ~ sliced ~ '.mean_difference + ' ~ ci_z() ~ ' * ' ~ sliced ~ '.sd_difference / sqrt('
            ~ sliced ~ '.n_episodes))', sliced ~ '.is_suppressed') }} as ci_high,
        {{ published('100.0 * ' ~ sliced ~ '.participant_rate', sliced ~ '.is_suppressed') }} as participant_rate_pct,
        {{ published('100.0 * ' ~ sliced ~ '.comparison_rate', sliced ~ '.is_suppressed') }} as comparison_rate_pct,
{% endmacro %}
