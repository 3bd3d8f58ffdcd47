-- Matched controls were not enrolled in any program by the participant's start month
-- (a later enrollment is allowed) and sit in the participant's exact cell at that month
-- (docs/methods.md).
-- The Dagster asset check attaches to the matched controls (the test reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'int_impact__matched_controls'}}}) }}

with matched_controls as (
    select * from {{ ref('int_impact__matched_controls') }}
),

learning_history as (
    select * from {{ ref('int_learning_history') }}
),

panel as (
    select * from {{ ref('int_employee_history__monthly_panel') }}
),

enrollments as (
    select * from {{ ref('stg_lms__enrollments') }}
)

select matched_controls.*
from matched_controls
inner join learning_history
    on matched_controls.enrollment_id = learning_history.enrollment_id
left join panel
    on matched_controls.control_worker_id = panel.worker_id
    and matched_controls.start_month = panel.period
where matched_controls.control_worker_id in (
        select worker_id
        from enrollments
        where coalesce(enrolled_at, started_at) < {{ add_to_date('month', 1, 'matched_controls.start_month') }}
    )
   or panel.worker_id is null
   or not panel.is_employed
   or panel.department is distinct from learning_history.department
   or panel.management_level is distinct from learning_history.management_level
   or panel.job_family is distinct from learning_history.job_family
   or panel.tenure_band is distinct from learning_history.tenure_band
