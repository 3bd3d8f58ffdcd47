-- Effective-dated spells per worker, rebuilt in full from the latest HR extract on
-- every run (changes arrive late and are corrected retroactively: never incremental).
-- A spell starts at every effective change; a termination ends the active spell on the
-- termination date (last day employed) and opens a `terminated` spell the day after.
-- History is as of the extract: changes keyed in with a later effective date (scheduled
-- promotions) are not in force yet and stay out.
with data_window as (
    select * from {{ ref('int_data_window') }}
),

job_events as (
    select * from {{ ref('stg_hris__job_history') }}
),

job_events_in_force as (
    select job_events.*
    from job_events
    cross join data_window
    where job_events.effective_date <= data_window.data_end_date
),

workers as (
    select * from {{ ref('stg_hris__workers') }}
),

-- several events on one day: the highest event_sequence is the state of that day,
-- but a hire or rehire earlier that day still opens an employment
daily_states as (
    select
        worker_id,
        effective_date,
        event_sequence,
        event_reason,
        position_id,
        job_profile,
        job_family,
        management_level,
        department,
        cost_center,
        manager_id,
        compensation_grade,
        base_pay,
        currency,
        max(case when event_reason in ('hire', 'rehire') then 1 else 0 end)
            over (partition by worker_id, effective_date) = 1 as starts_employment,
        'job_history' as state_source
    from job_events_in_force
    qualify row_number() over (partition by worker_id, effective_date order by event_sequence desc) = 1
),

last_states as (
    select *
    from daily_states
    qualify row_number() over (partition by worker_id order by effective_date desc) = 1
),

-- a termination known to the worker record but not (yet) in the job history
terminations_from_workers as (
    select
        workers.worker_id,
        workers.termination_date as effective_date,
        last_states.event_sequence + 1 as event_sequence,
        'termination' as event_reason,
        last_states.position_id,
        last_states.job_profile,
        last_states.job_family,
        last_states.management_level,
        last_states.department,
        last_states.cost_center,
        last_states.manager_id,
        last_states.compensation_grade,
        last_states.base_pay,
        last_states.currency,
        false as starts_employment,
        'workers' as state_source
    from workers
    inner join last_states
        on workers.worker_id = last_states.worker_id
    cross join data_window
    where workers.termination_date is not null
      and workers.termination_date <= data_window.data_end_date
      and workers.termination_date >= last_states.effective_date
      and last_states.event_reason != 'termination'
),

all_states as (
    select * from daily_states
    union all
    select * from terminations_from_workers
),

spell_starts as (
    select
        *,
        event_reason = 'termination' as is_termination,
        case
            when event_reason = 'termination' then {{ add_to_date('day', 1, 'effective_date') }}
            else effective_date
        end as valid_from,
        sum(case when starts_employment then 1 else 0 end)
            over (partition by worker_id order by effective_date rows between unbounded preceding and current row)
            as employment_episode
    from all_states
),

spells as (
    select
        *,
        coalesce(
            {{ add_to_date('day', -1, 'lead(valid_from) over (partition by worker_id order by valid_from)') }},
            {{ open_end_date() }}
        ) as valid_to,
        max(case when starts_employment then effective_date end)
            over (partition by worker_id, employment_episode) as episode_hire_date,
        min(effective_date) over (partition by worker_id) as first_event_date
    from spell_starts
),

spells_with_worker as (
    select
        {{ surrogate_key(['spells.worker_id', 'spells.valid_from']) }} as position_spell_key,
        spells.worker_id,
        row_number() over (partition by spells.worker_id order by spells.valid_from) as spell_sequence,
        spells.employment_episode,
        case when spells.is_termination then 'terminated' else 'active' end as employment_status,
        spells.event_reason,
        spells.state_source,
        spells.position_id,
        spells.job_profile,
        spells.job_family,
        spells.management_level,
        spells.department,
        spells.cost_center,
        spells.manager_id,
        spells.compensation_grade,
        spells.base_pay,
        spells.currency,
        workers.region,
        workers.location,
        workers.fte_pct,
        -- history may start after the first hire: fall back on the worker record
        coalesce(
            spells.episode_hire_date,
            least(coalesce(workers.original_hire_date, workers.hire_date, spells.first_event_date), spells.first_event_date)
        ) as employment_start_date,
        case
            when spells.is_termination and workers.termination_date = spells.effective_date
                then workers.termination_category
        end as termination_category,
        case when spells.is_termination then spells.effective_date end as termination_date,
        spells.valid_from,
        spells.valid_to,
        spells.valid_to = {{ open_end_date() }} as is_current
    from spells
    left join workers
        on spells.worker_id = workers.worker_id
    -- a state replaced on the day it took effect leaves an empty spell
    where spells.valid_to >= spells.valid_from
)

select * from spells_with_worker
