-- One row per internal move: an active spell whose job differs from the previous
-- active spell of the same employment (a rehire is not an internal move).
-- Classified by comparing attributes, not by the HR event reason, which vendors fill
-- inconsistently. A move counts for mobility when it is a promotion, a lateral move
-- or a job-family change (docs/methods.md); demotions and transfers are kept apart.
-- A title change (new job profile, whatever else changed) is kept as a definition variant.
with spells as (
    select * from {{ ref('int_employee_history__spells') }}
    where employment_status = 'active'
),

spells_with_previous as (
    select
        *,
        lag(position_spell_key) over spell_order as previous_position_spell_key,
        lag(job_profile) over spell_order as previous_job_profile,
        lag(job_family) over spell_order as previous_job_family,
        lag(management_level) over spell_order as previous_management_level,
        lag(department) over spell_order as previous_department
    from spells
    window spell_order as (partition by worker_id, employment_episode order by valid_from)
),

compared as (
    select
        *,
        management_level > previous_management_level as is_promotion,
        management_level < previous_management_level as is_demotion,
        job_family is distinct from previous_job_family as is_job_family_change,
        management_level = previous_management_level
            and job_family is not distinct from previous_job_family
            and job_profile is distinct from previous_job_profile as is_lateral,
        job_profile is not distinct from previous_job_profile
            and management_level is not distinct from previous_management_level
            and department is distinct from previous_department as is_transfer
    from spells_with_previous
    where previous_position_spell_key is not null
),

moves as (
    select
        position_spell_key,
        previous_position_spell_key,
        worker_id,
        employment_episode,
        valid_from as move_date,
        case
            when is_promotion then 'promotion'
            when is_demotion then 'demotion'
            when is_job_family_change then 'job_family_change'
            when is_lateral then 'lateral'
            when is_transfer then 'transfer'
        end as move_type,
        coalesce(is_promotion, false) as is_promotion,
        coalesce(is_demotion, false) as is_demotion,
        coalesce(is_job_family_change, false) as is_job_family_change,
        coalesce(is_lateral, false) as is_lateral,
        coalesce(is_transfer, false) as is_transfer,
        coalesce(is_promotion or is_job_family_change or is_lateral, false) as is_mobility_move,
        job_profile is distinct from previous_job_profile as is_title_change,
        event_reason,
        previous_job_profile,
        job_profile,
        previous_job_family,
        job_family,
        previous_management_level,
        management_level,
        previous_department,
        department
    from compared
    where coalesce(is_promotion or is_demotion or is_job_family_change or is_lateral or is_transfer, false)
)

select * from moves
