"""``training-impact trace``: from one published KPI cell down to its source rows.

Everything is read from the audit trail of the run (``<data>/audit``), never from
the live warehouse, so a trace of last quarter's run still works after many
rebuilds: the cell from the run's KPI history, its members (participants and
comparison employees, by pseudonym), their source rows (file, row number,
sha256), the checks those files passed when they were loaded, and the chain of
dbt models from the bronze sources to the KPI's mart.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb

from training_impact.audit import history, store
from training_impact.audit.members import DIMENSIONS, SLICE_COLUMNS, cell_filter, member_marts
from training_impact.settings import Paths


class TraceError(LookupError):
    pass


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def parse_slice(text: str | None) -> dict:
    """``grain=program,program_id=P001`` → cell columns; missing dimensions read 'all'."""
    cell = {"slice_grain": "overall", **{d: "all" for d in DIMENSIONS}}
    for part in filter(None, (text or "").split(",")):
        key, _, value = part.partition("=")
        key = {"grain": "slice_grain"}.get(key.strip(), key.strip())
        if key not in cell and key != "estimation_method":
            raise TraceError(f"unknown slice column {key!r}: use grain and {', '.join(DIMENSIONS)}")
        cell[key] = value.strip()
    return cell


@dataclass
class Trace:
    run_id: str
    kpi: str
    mart: str
    cell: dict
    members: list[dict] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    file_checks: dict = field(default_factory=dict)
    chain: list[dict] = field(default_factory=list)
    recomputed: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, default=str, sort_keys=True)


def _model_chain(paths: Paths, run_id: str, mart: str) -> list[dict]:
    """Every dbt node upstream of ``mart`` in the run's graph, sources first, each with its parents."""
    path = store.lineage_file(paths, run_id)
    if not path.exists():
        return []
    lineage = json.loads(path.read_text(encoding="utf-8"))
    nodes, parents = lineage["nodes"], lineage["parents"]
    start = next((uid for uid, node in nodes.items() if node["name"] == mart and node["layer"] == "marts"), None)
    if start is None:
        return []
    order, seen, stack = [], {start}, [start]
    while stack:
        current = stack.pop()
        order.append(current)
        for parent in parents.get(current, []):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    layers = {"bronze": 0, "staging": 1, "intermediate": 2, "seed": 2, "marts": 3}
    order.sort(key=lambda uid: (layers.get(nodes[uid]["layer"], 2), nodes[uid]["name"]))
    return [{"model": nodes[uid]["name"], "layer": nodes[uid]["layer"], "relation": nodes[uid]["relation"],
             "file": nodes[uid]["file"], "checksum": nodes[uid]["checksum"],
             "parents": sorted(nodes[p]["name"] for p in parents.get(uid, []))} for uid in order]


def _file_checks(con, paths: Paths, records: list[dict], run_id: str) -> dict:
    """Per (file sha256, loading batch): the bronze checks of the loading run, and this run's dbt tests."""
    wanted = {(r["_source_sha256"], r["_batch_id"], r["staging_model"]) for r in records}
    out = {}
    inputs = {}
    for sha, batch, model in wanted:
        inputs.setdefault(batch, set()).add((sha, model))
    for batch, items in inputs.items():
        path = store.ledger_file(paths, "checks", batch)
        loading = []
        if path.exists():
            loading = con.execute(f"select asset, check_name, passed, severity from read_parquet({_literal(str(path))})"
                                  " where asset like 'bronze/%'").fetchall()
        entities = {}
        input_path = store.ledger_file(paths, "inputs", run_id)
        if input_path.exists():
            entities = dict(con.execute(f"select sha256, entity from read_parquet({_literal(str(input_path))})")
                            .fetchall())
        for sha, model in items:
            entity = entities.get(sha)
            mine = [{"check": f"{asset}:{name}", "passed": passed, "severity": severity}
                    for asset, name, passed, severity in loading if asset == f"bronze/{entity}"]
            out[f"{sha}@{batch}"] = {"entity": entity, "loading_run": batch,
                                     "loading_run_in_ledger": path.exists(), "checks": mine}
    this_run = store.ledger_file(paths, "checks", run_id)
    if this_run.exists():
        models = sorted({r["staging_model"] for r in records})
        tests = con.execute(
            f"select split_part(asset, '/', 2) as model, count(*), count(*) filter (where passed) "
            f"from read_parquet({_literal(str(this_run))}) where asset like 'staging/%' group by 1").fetchall()
        out["staging_tests"] = {m: {"checks": c, "passed": p} for m, c, p in tests if m in models}
    return out


def trace(paths: Paths, kpi: str, slice_text: str | None = None, run: str | None = None,
          estimation_method: str | None = None, *, full: bool = True, limit: int = 20) -> Trace:
    """The cell, its members (all when ``full``, else the first ``limit``) and their source rows."""
    run_id = history.resolve_run(paths, run)
    con = duckdb.connect()
    folder = store.members_dir(paths, run_id)
    if not (folder / "members.parquet").exists():
        raise TraceError(f"run {run_id} has no KPI members in the audit trail")
    marts = member_marts(con, folder / "members.parquet")
    if kpi not in marts:
        raise TraceError(f"KPI {kpi!r} has no member-level trace in run {run_id}; "
                         f"traceable: {', '.join(sorted(marts)) or 'none (recorded before members carried their mart)'}")
    mart = marts[kpi]
    cell_key = parse_slice(slice_text)
    where = {c: cell_key[c] for c in SLICE_COLUMNS}
    if estimation_method or cell_key.get("estimation_method"):
        where["estimation_method"] = estimation_method or cell_key["estimation_method"]
    rows = history.cells(con, paths, run_id, kpi=kpi, where=where, mart=mart)
    if not rows:
        raise TraceError(f"run {run_id} published no {kpi} cell for {slice_text or 'overall'}")
    if len(rows) > 1:
        methods = sorted({r.get("estimation_method") for r in rows})
        raise TraceError(f"{len(rows)} cells match; add estimation_method=… ({', '.join(map(str, methods))})")
    cell = rows[0]
    result = Trace(run_id=run_id, kpi=kpi, mart=mart, cell=cell)
    members_sql = (f"from read_parquet({_literal(str(folder / 'members.parquet'))}) as m "
                   f"where m.kpi = ? and {cell_filter(cell)}")
    count, numerator, denominator, participants, comparison = con.execute(
        "select count(*), round(coalesce(sum(numerator) filter (where role = 'participant'), 0), 4), "
        "round(coalesce(sum(denominator) filter (where role = 'participant'), 0), 4), "
        "count(distinct worker_id) filter (where role = 'participant'), "
        f"count(distinct worker_id) filter (where in_comparison) {members_sql}", [kpi]).fetchone()
    # a large cell (the overall one of a big company) lists its first `limit` members unless `full`
    relation = con.execute(f"select * {members_sql} order by m.role desc, m.enrollment_id, m.worker_id"
                           + ("" if full else f" limit {int(limit)}"), [kpi])
    names = [d[0] for d in relation.description]
    result.members = [dict(zip(names, row)) for row in relation.fetchall()]
    records = _literal(str(folder / "records.parquet"))
    shown = sorted({m["worker_id"] for m in result.members})
    if shown:
        relation = con.execute(f"select * from read_parquet({records}) where worker_id in (select unnest(?)) "
                               "order by all", [shown])
        names = [d[0] for d in relation.description]
        result.records = [dict(zip(names, row)) for row in relation.fetchall()]
    files = con.execute(
        f"select distinct staging_model, _source_sha256, _batch_id from read_parquet({records}) "
        f"where worker_id in (select distinct worker_id {members_sql})", [kpi]).fetchall()
    result.file_checks = _file_checks(
        con, paths, [{"staging_model": m, "_source_sha256": sha, "_batch_id": batch} for m, sha, batch in files],
        run_id)
    result.chain = _model_chain(paths, run_id, mart)
    result.recomputed = {
        "members": count,
        "numerator": numerator,
        "denominator": denominator,
        "participants": participants,
        "comparison_employees": comparison,
        "published_numerator": cell.get("numerator"),
        "published_denominator": cell.get("denominator"),
    }
    return result


def render(result: Trace, limit: int = 20) -> str:
    """A readable report: the cell, the recomputation, members, their source rows, checks, the model chain."""
    cell = result.cell
    lines = [f"KPI {result.kpi} ({result.mart}) in run {result.run_id}",
             "slice: " + ", ".join(f"{c}={cell[c]}" for c in SLICE_COLUMNS if c == "slice_grain" or cell[c] != "all"),
             f"published: numerator {cell.get('numerator')}  denominator {cell.get('denominator')}  "
             f"n {cell.get('n')}  estimate {cell.get('estimate')}  suppressed {cell.get('suppressed')}  "
             f"definition {cell.get('definition_version')}",
             f"recomputed from the members below: numerator {result.recomputed['numerator']}  "
             f"denominator {result.recomputed['denominator']}  ({result.recomputed['participants']} participants, "
             f"{result.recomputed['comparison_employees']} comparison employees)", ""]
    if cell.get("suppressed"):
        lines[-1:-1] = ["this cell is suppressed in every published table: the figures above are for audit only"]
    by_person = defaultdict(list)
    for record in result.records:
        by_person[record["worker_id"]].append(record)
    lines.append(f"{'role':<12} {'worker (pseudonym)':<20} {'enrollment':<14} {'num':>5} {'den':>5}  source rows")
    for member in result.members[:limit]:
        rows = by_person.get(member["worker_id"], [])
        counts = defaultdict(int)
        for record in rows:
            counts[record["staging_model"].removeprefix("stg_")] += 1
        lines.append(f"{member['role']:<12} {str(member['worker_id'])[:20]:<20} {str(member['enrollment_id'])[:14]:<14} "
                     f"{member['numerator']:>5g} {member['denominator']:>5g}  "
                     + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    total = result.recomputed.get("members", len(result.members))
    if total > min(limit, len(result.members)):
        lines.append(f"... {total - min(limit, len(result.members))} more members (--limit, or --json for all)")
    lines += ["", f"source rows of the first member ({result.members[0]['worker_id'] if result.members else '-'}):",
              f"  {'staging model':<32} {'file':<44} {'row':>6}  sha256"]
    first = by_person.get(result.members[0]["worker_id"], []) if result.members else []
    for record in first[:limit]:
        lines.append(f"  {record['staging_model']:<32} {record['_source_file']:<44} {record['_source_row']:>6}  "
                     f"{record['_source_sha256'][:16]}")
    lines += ["", "checks the files of these rows passed (in the run that loaded them; --json lists every file):"]
    grouped = defaultdict(list)
    for key, info in result.file_checks.items():
        if key != "staging_tests":
            verdict = ", ".join(
                f"{c['check'].split(':')[1]} "
                + ("passed" if c["passed"] else "warned" if c["severity"] == "WARN" else "FAILED")
                for c in info["checks"]) or "that run is not in the ledger"
            grouped[(info["entity"], info["loading_run"], verdict)].append(key)
    for (entity, run, verdict), files in sorted(grouped.items(), key=lambda item: str(item[0])):
        lines.append(f"  bronze/{entity} ({len(files)} files) loaded by run {run[:8]}: {verdict}")
    for model, counts in sorted(result.file_checks.get("staging_tests", {}).items()):
        lines.append(f"  dbt tests on {model}: {counts['passed']}/{counts['checks']} passed in this run")
    lines += ["", "model chain (bronze → staging → intermediate → mart):"]
    for node in result.chain:
        origin = "(landing files)" if node["layer"] == "bronze" else "(config/parameters.yml, seeds)"
        lines.append(f"  {node['layer']:<12} {node['model']:<48} ← {', '.join(node['parents']) or origin}")
    return "\n".join(lines)
