-- The careless comparison's other side (docs/methods.md, naive_vs_nonparticipants): per
-- month, the mean productivity index of every worker never enrolled in any program who
-- was measured that month.
with panel as (
    select * from {{ ref('int_employee_history__monthly_panel') }}
),

enrolled as (
    select distinct worker_id from {{ ref('stg_lms__enrollments') }}
),

nonparticipant_months as (
    select
        panel.period,
        count(panel.productivity_index) as n_workers,
        {{ exact_avg('panel.productivity_index') }} as mean_productivity_index
    from panel
    left join enrolled
        on panel.worker_id = enrolled.worker_id
    where panel.productivity_index is not null
      and enrolled.worker_id is null
    group by panel.period
)

select * from nonparticipant_months
