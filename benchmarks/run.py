"""`make bench SCALE=N`: the real job, `training-impact run`, against the parse floor and a pandas reference.

On a fresh data root of a generated company (N employees, with its last day held back as a
daily delivery):

1. ``full``: `training-impact run` over the whole history: wall time, CPU time (user + system of
   the process tree: dbt and every other child is waited for, so ``wait4`` counts it) and peak RSS
   of the process tree (the sum over the tree, sampled every 0.2 s), with the wall time of each
   Dagster step read from the run's event log, and dbt's seconds per model (run_results.json);
2. ``delta``: the held-back day laid into landing/, then `training-impact run` again (the nightly);
3. ``parse_floor``: DuckDB reading every landing file once into a typed table
   (benchmarks/parse_floor.py);
4. ``pandas_reference``: a few KPIs the way an analyst would compute them in a notebook
   (benchmarks/pandas_reference.py).

The results file (benchmarks/results/bench_<N>_<time>.json) records each measure, the ratios the
scale issue sets targets on (full run over the parse floor, full run CPU over the pandas
reference, delta over full) and the machine's load before and after. A benchmark, not a test:
people read the results, nothing asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from training_impact.settings import subprocess_environment

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root_pid: int) -> tuple[int, dict[int, int]]:
    """Resident bytes of a process and all its descendants, now: the sum, and by pid."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry.name}/statm", encoding="ascii") as fh:
                resident = int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1] is the parent pid
        rss[pid] = resident * PAGE
    tree: dict[int, int] = {}
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        tree[pid] = rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return sum(tree.values()), tree


def _command(pid: int) -> str:
    """A process's command line, shortened to its program and first arguments."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            words = [Path(w.decode(errors="replace")).name if i == 0 else w.decode(errors="replace")
                     for i, w in enumerate(fh.read().split(b"\0")[:4]) if w]
    except OSError:
        return "?"
    return " ".join(words)[:120]


def measure(name: str, cmd: list[str], env: dict | None = None, log: Path | None = None) -> dict:
    """Run ``cmd`` as a child: wall seconds, CPU seconds of its tree, peak RSS of its tree."""
    print(f"== {name}: {' '.join(cmd[-3:])}", flush=True)
    out = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    peak = [0]
    # the largest resident size each process of the tree reached, when, and its command: which
    # process holds the memory (the Dagster run, the dbt child or DuckDB), not only how much
    by_process: dict[int, dict] = {}
    done = threading.Event()

    def sample():
        while not done.wait(0.2):
            total, tree = _tree_rss(proc.pid)
            peak[0] = max(peak[0], total)
            for pid, rss in tree.items():
                seen = by_process.get(pid)
                if seen is None:
                    seen = by_process[pid] = {"command": _command(pid), "peak_rss_mb": 0.0, "at_second": 0.0}
                if rss / 2**20 > seen["peak_rss_mb"]:
                    seen["peak_rss_mb"] = round(rss / 2**20, 1)
                    seen["at_second"] = round(time.monotonic() - started, 1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if log:
        out.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log else ""
        raise SystemExit(f"{name} failed with exit code {code}\n{tail}")
    result = {"wall_seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
              # the largest single process (the kernel's own figure) and the sampled sum over the tree
              "peak_rss_mb_largest_process": round(usage.ru_maxrss / 1024, 1),
              "peak_rss_mb_tree": round(peak[0] / 2**20, 1),
              "peak_rss_by_process": sorted(by_process.values(), key=lambda p: -p["peak_rss_mb"])[:4]}
    print(f"   {result}", flush=True)
    return result


def step_seconds(root: Path) -> dict[str, float]:
    """Wall seconds of each Dagster step of the data root's latest run (its event log)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance:
        run = instance.get_runs(limit=1)[0]
        starts, steps = {}, {}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[entry.step_key] = entry.timestamp
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                steps[entry.step_key] = round(entry.timestamp - starts.get(entry.step_key, entry.timestamp), 1)
    return dict(sorted(steps.items(), key=lambda kv: -kv[1]))


def dbt_timings(root: Path) -> dict:
    """dbt's own seconds per model of the latest build (run_results.json), largest first, and in total."""
    results = json.loads((root / "warehouse" / "dbt_target" / "run_results.json").read_text(encoding="utf-8"))
    models = {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
              for r in results["results"] if r["unique_id"].startswith("model.")}
    tests = sum(r["execution_time"] for r in results["results"] if r["unique_id"].startswith("test."))
    return {"elapsed_seconds": round(results["elapsed_time"], 1), "tests_seconds": round(tests, 1),
            "models_seconds": dict(sorted(models.items(), key=lambda kv: -kv[1]))}


def landing_size(landing: Path) -> dict:
    files = [p for p in landing.rglob("*") if p.is_file()]
    return {"files": len(files), "megabytes": round(sum(p.stat().st_size for p in files) / 2**20, 1)}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=100_000, help="employees")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", default=str(HERE / "work"), help="scratch folder (git-ignored)")
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated company and the data root (18 GB at 1,000,000 employees); the logs stay anyway")
    args = parser.parse_args()

    work = Path(args.work) / f"scale_{args.scale}"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    source, root, logs = work / "generated", work / "root", work / "logs"
    logs.mkdir(parents=True)
    env = subprocess_environment(DAGSTER_HOME=str(root / "dagster_home"))
    env.setdefault("TI_ENV", "development")
    load_before = os.getloadavg()
    record: dict = {"scale_employees": args.scale, "years": args.years, "seed": args.seed}

    # The company, its last day held back as the nightly delivery (synthetic/daily.py).
    record["generate"] = measure("generate", [sys.executable, "-m", "training_impact.benchmarks.generate",
                                              str(source), str(args.scale), str(args.years), str(args.seed)],
                                 env, logs / "generate.log")
    drops = json.loads((source / "daily_drops.json").read_text())
    day = max(drops)
    from training_impact.synthetic.daily import lay_out_drops

    lay_out_drops(source / "landing", root / "landing", None, drops)
    record["landing_full"] = landing_size(root / "landing")

    cli = str(Path(sys.executable).with_name("training-impact"))
    run = [cli, "run", "--data", str(root)]
    record["full"] = measure("full run", run, env, logs / "full.log")
    record["full"]["steps"] = step_seconds(root)
    record["full"]["dbt"] = dbt_timings(root)
    record["parse_floor"] = measure("parse floor", [sys.executable, "-m", "training_impact.benchmarks.parse_floor",
                                                    str(root / "landing")], env, logs / "parse_floor.log")
    record["pandas_reference"] = measure("pandas reference",
                                         [sys.executable, "-m", "training_impact.benchmarks.pandas_reference",
                                          str(root / "landing"), str(logs / "pandas_reference.json")],
                                         env, logs / "pandas_reference.log")
    record["pandas_reference"]["kpis"] = json.loads((logs / "pandas_reference.json").read_text())

    added = lay_out_drops(source / "landing", root / "landing", day, drops)
    record["delta"] = {"day": day, "files": len(added), **measure("one-day delta", run, env, logs / "delta.log")}
    record["delta"]["steps"] = step_seconds(root)
    record["delta"]["dbt"] = dbt_timings(root)

    full, floor, pandas_ref, delta = record["full"], record["parse_floor"], record["pandas_reference"], record["delta"]
    record["ratios"] = {
        "full_wall_over_parse_floor_wall": _ratio(full["wall_seconds"], floor["wall_seconds"]),
        "full_cpu_over_parse_floor_cpu": _ratio(full["cpu_seconds"], floor["cpu_seconds"]),
        "full_cpu_over_pandas_cpu": _ratio(full["cpu_seconds"], pandas_ref["cpu_seconds"]),
        "delta_wall_over_full_wall": _ratio(delta["wall_seconds"], full["wall_seconds"]),
    }
    record["finished_at"] = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    record["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                         "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30, 1)}
    # Other work on the machine inflates wall times: the 1-minute load average says how much.
    record["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"bench_{args.scale}_{record['finished_at']}.json"
    target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record["ratios"], indent=2))
    print(f"results: {target}")
    if not args.keep:  # the company, the warehouse and DuckDB's spill folder; the logs stay
        subprocess.run(["rm", "-rf", str(source), str(root)], check=True)
        print(f"removed {source} and {root} (--keep keeps them); logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
