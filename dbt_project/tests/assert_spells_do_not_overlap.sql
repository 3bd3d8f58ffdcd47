-- A worker is in one spell on any day: each spell starts after the previous one ends.
with spells as (
    select
        worker_id,
        valid_from,
        lag(valid_to) over (partition by worker_id order by valid_from nulls last) as previous_valid_to
    from {{ ref('int_employee_history__spells') }}
)

select *
from spells
where previous_valid_to >= valid_from
