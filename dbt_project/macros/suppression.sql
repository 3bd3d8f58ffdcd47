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
{{ name }}__cells as {{ ti_materialized() }} (
    select
        row_number() over (order by {{ order_columns | join(' nulls last, ') }} nulls last) as suppression_cell_id,
        coalesce(cast({{ size }} as bigint), 0) as suppression_cell_size,
        {{ cells }}.*
    from {{ cells }}
),

{{ ti_suppression_edges(name, keys, grains, period_partition_where) }},

{{ name }}__links as {{ ti_materialized() }} (
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

{{ ti_suppression_fixed_point(name, passes) }},

{{ name }} as (
    select
        {{ ti_star_except(name ~ '__cells', ['suppression_cell_id', 'suppression_cell_size']) }},
        case
            when unresolved.violations > 0 then {{ ti_raise_error(
                "'complementary suppression (" ~ name ~ ") did not converge in " ~ passes ~ " passes: raise the var kpi_suppression_passes'") }}
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


{# The passes as CTEs over cell rows (DuckDB, each pass materialised): `<name>__pass_<n>` (cell_id, cell_size,
   is_suppressed) after n passes, and `<name>__unresolved` (violations after the last pass). #}
{% macro suppression_fixed_point_in_rows(name, passes) %}
{{ name }}__pass_0 as {{ ti_materialized() }} (
    select
        suppression_cell_id as cell_id,
        suppression_cell_size as cell_size,
        suppression_cell_size < parameters.min_cell_size as is_suppressed
    from {{ name }}__cells
    cross join parameters
),
{%- for pass in range(1, passes + 2) %}
{%- set previous = name ~ '__pass_' ~ (pass - 1) %}

{{ name }}__equations_{{ pass }} as {{ ti_materialized() }} (
    select
        edges.parent_id,
        edges.relation,
        bool_or(parent.is_suppressed) as parent_suppressed,
        count(*) filter (where child.is_suppressed) as suppressed_children,
        coalesce(sum(child.cell_size) filter (where child.is_suppressed), 0) as suppressed_people,
        {{ ti_arg_min('child.cell_id', ['child.cell_size', 'child.cell_id']) }} filter (where not child.is_suppressed)
            as smallest_published_child
    from {{ name }}__edges as edges
    inner join {{ previous }} as child
        on edges.child_id = child.cell_id
    inner join {{ previous }} as parent
        on edges.parent_id = parent.cell_id
    group by edges.parent_id, edges.relation
),

{%- if pass <= passes %}

{{ name }}__pass_{{ pass }} as {{ ti_materialized() }} (
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
)
{% endmacro %}


{# Each equation's figures (parent_suppressed, suppressed_children, suppressed_people, smallest_published_child,
   as in suppression_fixed_point_in_rows) from a state row's arrays: flags and sizes indexed by cell id. #}
{% macro suppression_equation_figures(state) -%}
{%- set flag = "element_at(" ~ state ~ ".flags, cast(ti_c as int))" -%}
transform({{ state }}.equations, ti_e -> named_struct(
            'parent_id', ti_e.parent_id,
            'parent_suppressed', element_at({{ state }}.flags, cast(ti_e.parent_id as int)),
            'suppressed_children', size(filter(ti_e.children, ti_c -> {{ flag }})),
            'suppressed_people', aggregate(filter(ti_e.children, ti_c -> {{ flag }}), cast(0 as bigint),
                (ti_acc, ti_c) -> ti_acc + element_at({{ state }}.sizes, cast(ti_c as int))),
            'smallest_published_child', array_min(transform(filter(ti_e.children, ti_c -> not {{ flag }}),
                ti_c -> named_struct('size', element_at({{ state }}.sizes, cast(ti_c as int)), 'id', ti_c))).id
        ))
{%- endmacro %}


{# The same passes over one row holding every cell in arrays indexed by cell id (Spark). Spark inlines CTEs
   in `create table as`: the chain of passes, each reading the previous pass twice (child and parent), grew
   exponentially in the plan (out of memory while planning). Here the state is one row: sizes[id], flags[id]
   (is_suppressed), the equations (parent, children) and the links; a recursive CTE (Spark 4) runs the
   passes, each reading the previous state once, computing every equation's figures from the flags and
   setting the cells DuckDB's pass sets. Same results:
   `<name>__pass_<passes>` (cell_id, cell_size, is_suppressed) and `<name>__unresolved` (violations). #}
{% macro suppression_fixed_point_in_arrays(name, passes) %}
{{ name }}__state_0 as (
    select
        cells.sizes,
        transform(cells.sizes, ti_s -> ti_s < parameters.min_cell_size) as flags,
        coalesce(equations.equations, array()) as equations,
        coalesce(links.links, array()) as links
    from (
        select transform(array_sort(collect_list(struct(suppression_cell_id, suppression_cell_size))),
            ti_x -> ti_x.suppression_cell_size) as sizes
        from {{ name }}__cells
    ) as cells
    cross join (
        select collect_list(struct(parent_id, children)) as equations
        from (
            select parent_id, relation, collect_list(child_id) as children
            from {{ name }}__edges
            group by parent_id, relation
        ) as members
    ) as equations
    cross join (
        select collect_list(struct(cell_id, linked_id)) as links from {{ name }}__links
    ) as links
    cross join parameters
),
-- the state after each pass: pass n + 1 reads the state of pass n once (a recursive CTE, Spark 4)
{{ name }}__states as (
    with recursive ti_states as (
        select 0 as pass, sizes, flags, equations, links
        from {{ name }}__state_0
        union all
        select
            state.pass + 1 as pass,
            state.sizes,
            transform(state.flags, (ti_f, ti_i) -> ti_f
                or array_contains(state.targets, cast(ti_i + 1 as bigint))
                or exists(state.links, ti_l -> ti_l.cell_id = ti_i + 1 and element_at(state.flags, cast(ti_l.linked_id as int))))
                as flags,
            state.equations,
            state.links
        from (
            select
                with_figures.*,
                transform(filter(with_figures.figures, ti_q -> {{ suppression_equation_violated('ti_q') }}),
                    ti_q -> coalesce(ti_q.smallest_published_child, ti_q.parent_id)) as targets
            from (
                select state.*, {{ suppression_equation_figures('state') }} as figures
                from ti_states as state
                where state.pass < {{ passes }}
            ) as with_figures
            cross join parameters
        ) as state
    )
    select * from ti_states where pass = {{ passes }}
),

-- every equation's figures on the last state
{{ name }}__equations_{{ passes + 1 }} as (
    select state.*, {{ suppression_equation_figures('state') }} as figures
    from {{ name }}__states as state
),

{{ name }}__pass_{{ passes }} as (
    select cast(ti_pos + 1 as bigint) as cell_id, element_at(state.sizes, ti_pos + 1) as cell_size, ti_flag as is_suppressed
    from {{ name }}__states as state
    lateral view posexplode(state.flags) as ti_pos, ti_flag
),

-- equations still violated after the last pass (re-evaluated on it): none, or the model fails
{{ name }}__unresolved as (
    select
        size(filter(equations.figures, ti_q -> {{ suppression_equation_violated('ti_q') }}))
        + size(filter(equations.links, ti_l -> element_at(equations.flags, cast(ti_l.cell_id as int))
            != element_at(equations.flags, cast(ti_l.linked_id as int)))) as violations
    from {{ name }}__equations_{{ passes + 1 }} as equations
    cross join parameters
)
{% endmacro %}


{# The equations' edges (parent cell, child cell, relation) as one join per (parent, child) grain pair
   (DuckDB: each a hash join on the dimensions, the CTE materialised). #}
{% macro suppression_edges_by_pair(name, keys, grains, period_partition_where) %}
{{ name }}__edges as {{ ti_materialized() }} (
    {%- for parent, child in suppression_relations(grains) %}
    select
        parent.suppression_cell_id as parent_id,
        child.suppression_cell_id as child_id,
        cast('{{ parent.slice_grain }}>{{ child.slice_grain }}' as {{ dbt.type_string() }}) as relation
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
    select cast(null as bigint) as parent_id, cast(null as bigint) as child_id, cast(null as {{ dbt.type_string() }}) as relation
    where false
)
{% endmacro %}


{# The same edges in one join of the cells with a table of the grain pairs (Spark: it inlines the cells
   into every reference, and one reference per pair multiplied the plan). A pair's dimension flag says
   the parent fixes that dimension (the child must have the parent's value); `period_partition` applies
   period_partition_where (child alias `child`) where the child adds the period. #}
{% macro suppression_edges_by_pair_table(name, keys, grains, period_partition_where) %}
{%- set pairs = suppression_relations(grains) %}
{{ name }}__edges as (
    select
        parent.suppression_cell_id as parent_id,
        child.suppression_cell_id as child_id,
        pairs.relation
    from {{ name }}__cells as parent
    inner join (
        select *
        from values
        {%- for parent, child in pairs %}
            ('{{ parent.slice_grain }}', '{{ child.slice_grain }}', '{{ parent.slice_grain }}>{{ child.slice_grain }}',
            {%- for dimension in kpi_slice_dimensions() %} {{ 'true' if dimension in parent.dimensions else 'false' }},{% endfor %}
            {{ 'true' if period_partition_where and 'period' in child.dimensions and 'period' not in parent.dimensions else 'false' }}){{ ',' if not loop.last }}
        {%- endfor %}
        {%- if not pairs %}
            ('', '', '', {% for dimension in kpi_slice_dimensions() %}false, {% endfor %}false)
        {%- endif %}
        as pairs (parent_grain, child_grain, relation, {% for dimension in kpi_slice_dimensions() %}fixes_{{ dimension }}, {% endfor %}period_partition)
    ) as pairs
        on parent.slice_grain = pairs.parent_grain
    inner join {{ name }}__cells as child
        on child.slice_grain = pairs.child_grain
        {%- for key in keys %}
        and parent.{{ key }} <=> child.{{ key }}
        {%- endfor %}
        {%- for dimension in kpi_slice_dimensions() %}
        and (not pairs.fixes_{{ dimension }} or parent.{{ dimension }} = child.{{ dimension }})
        {%- endfor %}
        {%- if period_partition_where %}
        and (not pairs.period_partition or ({{ period_partition_where }}))
        {%- endif %}
)
{% endmacro %}
