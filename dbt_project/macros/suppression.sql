{#
  Small-cell suppression with complementary suppression (docs/methods.md, "Small cells").

  Primary: a cell (one slice of one population) with fewer than organisation.min_cell_size
  people is suppressed. Complementary: every additive figure of a slice is the sum of its
  children in any finer grain whose dimensions include the slice's (department cells add
  up to the all-employees cell, method cells to their program type, program_type_period
  cells to their program type and to their period, cohorts to their program and to every
  coarser program grain...). Each such parent + children set is one linear equation; a
  suppressed cell could be recovered from it when exactly one of its cells is suppressed.
  So, for every equation:
    - parent published, exactly one child suppressed              -> suppress one more child;
    - parent published, >= 2 children suppressed, but together
      fewer than min_cell_size people (they would be a small cell) -> suppress one more child;
    - parent suppressed, every child published (parent = their sum) -> suppress one child;
    - the extra child is the published child with the fewest people (ties: the first
      cell in slice order), or the parent when no child is left.
  One pass fixes every equation violated at its start, but a new suppression can violate
  an equation of another grain (a suppressed program type needs one of its methods, of its
  periods... suppressed), so passes repeat `kpi_suppression_passes` times (default 12).
  Suppression only grows, so the passes converge; after the last pass every equation
  (and link) is checked once more and the model raises an error if one is still
  violated (the passes did not suffice): the build fails and nothing is published,
  rather than a recoverable cell.

  cells:   relation with the slice columns, the `keys` columns and the people count `size`,
           unique on keys + slice. Each distinct value of `keys` is one population (one
           table of cells); several KPIs computed on the same people share one population,
           so their cells are suppressed together.
  links:   optional SQL condition on two cells `a` and `b` (aliases) of possibly different
           populations that publish the same people (e.g. the reskilling-only mobility
           variant's overall cell and the reskilling program type of the headline one):
           when one of them is suppressed, so is the other.
  period_partition_where: optional condition on the child cell `child`: only then do the
           period cells add up to their 'all periods' parent (a KPI measured as of
           different dates per period does not).
  Emits CTEs `<name>__*` and `<name>`: the rows of `cells` plus `is_suppressed`. The
  enclosing model must have a `parameters` CTE (stg_config__parameters).
#}
{% macro suppression_passes() %}
    {{ return(var('kpi_suppression_passes', 12)) }}
{% endmacro %}


{# (parent, child) grain pairs whose cells add up: the parent's dimensions are a strict subset of the child's. #}
{% macro suppression_relations(grains=none) %}
    {%- set pairs = [] -%}
    {%- for parent in kpi_slices(grains) -%}
        {%- for child in kpi_slices(grains) -%}
            {%- set ns = namespace(contained=true) -%}
            {%- for dimension in parent.dimensions if dimension not in child.dimensions -%}
                {%- set ns.contained = false -%}
            {%- endfor -%}
            {%- if ns.contained and parent.dimensions | length < child.dimensions | length -%}
                {%- do pairs.append((parent, child)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(pairs) }}
{% endmacro %}


{# An equation (a parent and its children in one finer grain) that gives a suppressed cell away:
   one suppressed child under a published parent, suppressed children that together are a
   small cell, or a suppressed parent that is the sum of its published children. #}
{% macro suppression_equation_violated(equations) -%}
    (not {{ equations }}.parent_suppressed and {{ equations }}.suppressed_children = 1)
    or (not {{ equations }}.parent_suppressed and {{ equations }}.suppressed_children >= 2
        and {{ equations }}.suppressed_people < parameters.min_cell_size)
    or ({{ equations }}.parent_suppressed and {{ equations }}.suppressed_children = 0)
{%- endmacro %}


{% macro complementary_suppression(cells, size, keys=[], grains=none, name='suppression', links=none,
                                   period_partition_where=none) %}
    {%- set passes = suppression_passes() | int %}
    {%- set order_columns = keys + ['slice_grain'] + kpi_slice_dimensions() %}
{{ name }}__cells as materialized (
    select
        row_number() over (order by {{ order_columns | join(', ') }}) as suppression_cell_id,
        coalesce(cast({{ size }} as bigint), 0) as suppression_cell_size,
        {{ cells }}.*
    from {{ cells }}
),

{{ name }}__edges as materialized (
    {%- for parent, child in suppression_relations(grains) %}
    select
        parent.suppression_cell_id as parent_id,
        child.suppression_cell_id as child_id,
        cast('{{ parent.slice_grain }}>{{ child.slice_grain }}' as varchar) as relation
    from {{ name }}__cells as parent
    inner join {{ name }}__cells as child
        on parent.slice_grain = '{{ parent.slice_grain }}'
        and child.slice_grain = '{{ child.slice_grain }}'
        {%- for key in keys %}
        and parent.{{ key }} is not distinct from child.{{ key }}
        {%- endfor %}
        {%- for dimension in parent.dimensions %}
        and parent.{{ dimension }} = child.{{ dimension }}
        {%- endfor %}
        {%- if period_partition_where and 'period' in child.dimensions and 'period' not in parent.dimensions %}
        and ({{ period_partition_where }})
        {%- endif %}
    union all
    {%- endfor %}
    select cast(null as bigint) as parent_id, cast(null as bigint) as child_id, cast(null as varchar) as relation
    where false
),

{{ name }}__links as materialized (
    {%- if links %}
    select a.suppression_cell_id as cell_id, b.suppression_cell_id as linked_id
    from {{ name }}__cells as a
    inner join {{ name }}__cells as b
        on {{ links }}
    union
    select b.suppression_cell_id, a.suppression_cell_id
    from {{ name }}__cells as a
    inner join {{ name }}__cells as b
        on {{ links }}
    {%- else %}
    select cast(null as bigint) as cell_id, cast(null as bigint) as linked_id where false
    {%- endif %}
),

{{ name }}__pass_0 as materialized (
    select
        suppression_cell_id as cell_id,
        suppression_cell_size as cell_size,
        suppression_cell_size < parameters.min_cell_size as is_suppressed
    from {{ name }}__cells
    cross join parameters
),
{%- for pass in range(1, passes + 2) %}
{%- set previous = name ~ '__pass_' ~ (pass - 1) %}

{{ name }}__equations_{{ pass }} as materialized (
    select
        edges.parent_id,
        edges.relation,
        bool_or(parent.is_suppressed) as parent_suppressed,
        count(*) filter (where child.is_suppressed) as suppressed_children,
        coalesce(sum(child.cell_size) filter (where child.is_suppressed), 0) as suppressed_people,
        arg_min(child.cell_id, (child.cell_size, child.cell_id)) filter (where not child.is_suppressed)
            as smallest_published_child
    from {{ name }}__edges as edges
    inner join {{ previous }} as child
        on edges.child_id = child.cell_id
    inner join {{ previous }} as parent
        on edges.parent_id = parent.cell_id
    group by edges.parent_id, edges.relation
),

{%- if pass <= passes %}

{{ name }}__pass_{{ pass }} as materialized (
    select
        {{ previous }}.cell_id,
        {{ previous }}.cell_size,
        {{ previous }}.is_suppressed
        or {{ previous }}.cell_id in (
            select coalesce(equations.smallest_published_child, equations.parent_id)
            from {{ name }}__equations_{{ pass }} as equations
            cross join parameters
            where {{ suppression_equation_violated('equations') }}
        )
        or {{ previous }}.cell_id in (
            select links.cell_id
            from {{ name }}__links as links
            inner join {{ previous }} as linked
                on links.linked_id = linked.cell_id
            where linked.is_suppressed
        ) as is_suppressed
    from {{ previous }}
),
{%- endif %}
{%- endfor %}

-- equations still violated after the last pass (re-evaluated on it): none, or the model fails
{{ name }}__unresolved as (
    select
        count(*) + (
            select count(*)
            from {{ name }}__links as links
            inner join {{ name }}__pass_{{ passes }} as cell on links.cell_id = cell.cell_id
            inner join {{ name }}__pass_{{ passes }} as linked on links.linked_id = linked.cell_id
            where cell.is_suppressed != linked.is_suppressed
        ) as violations
    from {{ name }}__equations_{{ passes + 1 }} as equations
    cross join parameters
    where {{ suppression_equation_violated('equations') }}
),

{{ name }} as (
    select
        {{ name }}__cells.* exclude (suppression_cell_id, suppression_cell_size),
        case
            when unresolved.violations > 0 then error(
                'complementary suppression ({{ name }}) did not converge in {{ passes }} passes: raise the var kpi_suppression_passes')
            else final_pass.is_suppressed
        end as is_suppressed
    from {{ name }}__cells
    cross join {{ name }}__unresolved as unresolved
    inner join {{ name }}__pass_{{ passes }} as final_pass
        on {{ name }}__cells.suppression_cell_id = final_pass.cell_id
)
{% endmacro %}


{# Several KPIs of one mart on the same people: `relation` has one row per KPI (or theme,
   covariate ...) and slice; `population` (an SQL expression over its columns, 'all' by
   default) names the people a row counts. One suppression pattern per population, on its
   smallest people count per slice, so every KPI of a population is suppressed alike.
   Emits CTEs `<name>__*` and `<name>`: the rows of `relation` plus `is_suppressed`. #}
{% macro population_suppression(relation, size, name, population="'all'", grains=none, links=none,
                                period_partition_where=none) %}
{{ name }}__populations as (
    select {{ kpi_slice_key() }}, {{ population }} as population, min({{ size }}) as population_size
    from {{ relation }}
    group by all
),

{{ complementary_suppression(name ~ '__populations', 'population_size', keys=['population'], grains=grains,
    name=name ~ '__suppression', links=links, period_partition_where=period_partition_where) }},

{{ name }} as (
    select {{ relation }}.*, suppression.is_suppressed
    from {{ relation }}
    inner join {{ name }}__suppression as suppression
        on {{ kpi_slice_join(relation, 'suppression') }}
        and suppression.population = {{ population }}
)
{% endmacro %}
