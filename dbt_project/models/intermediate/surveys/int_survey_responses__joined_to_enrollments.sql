-- One row per enrollment invited to the post-training survey and/or answering it:
-- the invitation (every exit completed, passed, failed or withdrawn while still employed),
-- the answer to the recommend question (0-10; kpi_learning_nps categorises it), and whether
-- free text was given. No free text here: themes are tagged in int_survey_responses__themes.
with learning_history as (
    select * from {{ ref('int_learning_history') }}
),

responses as (
    select * from {{ ref('stg_surveys__survey_responses') }}
),

spells as (
    select * from {{ ref('int_employee_history__spells') }}
),

-- an exit by leaving the company is not surveyed
invited_enrollments as (
    select learning_history.enrollment_id
    from learning_history
    inner join spells
        on learning_history.worker_id = spells.worker_id
        and spells.employment_status = 'active'
        and learning_history.exit_date between spells.valid_from and spells.valid_to
    where learning_history.status in ('completed', 'passed', 'failed', 'withdrawn')
    group by learning_history.enrollment_id
),

-- one answer per enrollment: the latest that answered the recommend question, else the latest
latest_responses as (
    select *
    from responses
    qualify row_number() over (
        partition by coalesce(enrollment_id, response_id)
        order by nps is not null desc, ended_at desc nulls last, response_id desc nulls last
    ) = 1
),

survey_rows as (
    select enrollment_id as survey_row_id from invited_enrollments
    union
    select coalesce(enrollment_id, 'response:' || response_id) from latest_responses
),

joined as (
    select
        survey_rows.survey_row_id,
        coalesce(learning_history.enrollment_id, latest_responses.enrollment_id) as enrollment_id,
        latest_responses.response_id,
        coalesce(learning_history.worker_id, latest_responses.worker_id) as worker_id,
        coalesce(learning_history.program_id, latest_responses.program_id) as program_id,
        learning_history.program_type,
        learning_history.method,
        learning_history.cohort,
        learning_history.department,
        learning_history.region,
        learning_history.status,
        learning_history.exit_date,
        cast(latest_responses.ended_at as date) as responded_on,
        invited_enrollments.enrollment_id is not null as is_invited,
        coalesce(latest_responses.nps is not null, false) as has_response,
        latest_responses.nps,
        coalesce(length(trim(latest_responses.feedback_text)), 0) > 0 as has_feedback_text
    from survey_rows
    left join learning_history
        on survey_rows.survey_row_id = learning_history.enrollment_id
    left join invited_enrollments
        on survey_rows.survey_row_id = invited_enrollments.enrollment_id
    left join latest_responses
        on survey_rows.survey_row_id = coalesce(latest_responses.enrollment_id, 'response:' || latest_responses.response_id)
)

select * from joined
