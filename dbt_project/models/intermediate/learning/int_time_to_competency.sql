-- One row per participant episode (first attempt that started, not waived): the start
-- anchor, the first competency event on or after it, or the censoring date.
-- Anchor: the program start; for a new hire (program started within
-- competency.new_hire_days of the hire) the role start.
-- A competency event is the first of
--   * a competency evaluation (competency.evaluation_types) rated competency.meets_standard_rating or better,
--   * an assessment passed at mastery: an xAPI `passed` statement on the program's course
--     activity (not voided) or the transcript status passed, with a score at or above the
--     program's mastery score when both are known.
-- People not yet competent are censored at the earlier of the data end date and the last
-- day employed, never dropped (Kaplan-Meier in kpi_time_to_competency).
-- Waived enrollments are left out: a waiver attests prior competency, with no learning time to measure.
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

programs as (
    select * from {{ ref('stg_lms__programs') }}
),

ratings as (
    select * from {{ ref('stg_performance__ratings') }}
),

statements as (
    select * from {{ ref('stg_lms__xapi_statements') }}
),

spells as (
    select * from {{ ref('int_employee_history__spells') }}
),

data_window as (
    select * from {{ ref('int_data_window') }}
),

parameters as (
    select * from {{ ref('stg_config__parameters') }}
),

evaluation_types as (
    select value as evaluation_type
    from {{ ref('stg_config__parameter_lists') }}
    where parameter = 'competency.evaluation_types'
),

episodes as (
    select
        learning_history.enrollment_id,
        learning_history.worker_id,
        learning_history.program_id,
        learning_history.program_type,
        learning_history.method,
        learning_history.cohort,
        learning_history.department,
        learning_history.region,
        learning_history.status,
        learning_history.score,
        learning_history.mastery_score,
        learning_history.exit_date,
        learning_history.started_on,
        learning_history.employment_start_date,
        case
            when learning_history.employment_start_date is not null
                and learning_history.employment_start_date <= learning_history.started_on
                and learning_history.employment_start_date
                    >= {{ add_to_date('day', '-parameters.competency_new_hire_days', 'learning_history.started_on') }}
                then learning_history.employment_start_date
            else learning_history.started_on
        end as anchor_date,
        learning_history.employment_start_date is not null
            and learning_history.employment_start_date <= learning_history.started_on
            and learning_history.employment_start_date
                >= {{ add_to_date('day', '-parameters.competency_new_hire_days', 'learning_history.started_on') }}
            as is_new_hire
    from learning_history
    cross join parameters
    where learning_history.is_first_attempt
      and learning_history.status not in ('waived', 'not_started')
),

voided_statements as (
    select distinct voided_statement_id as statement_id
    from statements
    where voided_statement_id is not null
),

competency_evaluations as (
    select
        episodes.enrollment_id,
        ratings.evaluation_date as event_date,
        cast('competency_evaluation' as {{ dbt.type_string() }}) as event_source
    from episodes
    cross join parameters
    inner join ratings
        on episodes.worker_id = ratings.worker_id
        and ratings.evaluation_date >= episodes.anchor_date
        and ratings.rating >= parameters.competency_meets_standard_rating
    inner join evaluation_types
        on ratings.evaluation_type = evaluation_types.evaluation_type
),

assessments_passed_xapi as (
    select
        episodes.enrollment_id,
        cast(statements.statement_timestamp as date) as event_date,
        cast('assessment_passed' as {{ dbt.type_string() }}) as event_source
    from episodes
    inner join programs
        on episodes.program_id = programs.program_id
    inner join statements
        on episodes.worker_id = statements.actor_id
        and coalesce(statements.course_activity_id, statements.object_id) = programs.xapi_activity_id
        and statements.verb_id in ('http://adlnet.gov/expapi/verbs/passed', 'https://w3id.org/xapi/adl/verbs/passed')
        and cast(statements.statement_timestamp as date) >= episodes.anchor_date
    left join voided_statements
        on statements.statement_id = voided_statements.statement_id
    where voided_statements.statement_id is null
      and (statements.score_raw is null or programs.mastery_score is null
           or statements.score_raw >= programs.mastery_score)
),

assessments_passed_transcript as (
    select
        enrollment_id,
        exit_date as event_date,
        cast('assessment_passed' as {{ dbt.type_string() }}) as event_source
    from episodes
    where status = 'passed'
      and exit_date >= anchor_date
      and (score is null or mastery_score is null or score >= mastery_score)
),

competency_events as (
    select * from competency_evaluations
    union all
    select * from assessments_passed_xapi
    union all
    select * from assessments_passed_transcript
),

first_events as (
    select *
    from competency_events
    qualify row_number() over (partition by enrollment_id order by event_date nulls last, event_source nulls last) = 1
),

-- the last day employed after the anchor (termination_date is on the terminated spell)
separations as (
    select
        episodes.enrollment_id,
        min(spells.termination_date) as separation_date
    from episodes
    inner join spells
        on episodes.worker_id = spells.worker_id
        and spells.termination_date >= episodes.anchor_date
    group by episodes.enrollment_id
),

timed as (
    select
        episodes.*,
        least(data_window.data_end_date, coalesce(separations.separation_date, data_window.data_end_date))
            as censor_date,
        case
            when first_events.event_date <= least(
                data_window.data_end_date, coalesce(separations.separation_date, data_window.data_end_date))
                then first_events.event_date
        end as competency_date,
        first_events.event_source
    from episodes
    cross join data_window
    left join first_events
        on episodes.enrollment_id = first_events.enrollment_id
    left join separations
        on episodes.enrollment_id = separations.enrollment_id
    -- an anchor after the data end cannot be observed
    where episodes.anchor_date <= data_window.data_end_date
),

time_to_competency as (
    select
        enrollment_id,
        worker_id,
        program_id,
        program_type,
        method,
        cohort,
        department,
        region,
        status,
        is_new_hire,
        anchor_date,
        competency_date,
        case when competency_date is not null then event_source end as event_source,
        competency_date is not null as is_competent,
        case when competency_date is null then censor_date end as censor_date,
        cast({{ dbt.datediff('anchor_date', 'coalesce(competency_date, censor_date)', 'day') }} as {{ dbt.type_bigint() }}) as days_observed
    from timed
)

select * from time_to_competency
