-- Every slice the KPI marts publish (suppressed ones included), once: the rows of every serving
-- view. A family view left-joins its mart to these, so a slice with no row in that mart (nobody in
-- the KPI's population) or a suppressed cell is a row with a status, never a missing row.
select distinct
    slice_grain,
    program_type,
    method as training_method,
    program_id,
    cohort,
    department,
    region,
    period,
    -- one text key per slice, for the semantic layer's `slice` entity (models/semantic)
    slice_grain || '|' || program_type || '|' || method || '|' || program_id || '|' || cohort || '|'
        || department || '|' || region || '|' || period as slice_key
from {{ ref('kpi_summary') }}
