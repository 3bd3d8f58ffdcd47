"""A pandas reference: `python -m training_impact.benchmarks.pandas_reference LANDING OUT.json`.

A few of the product's KPIs computed the way an analyst would in a notebook: whole files into
pandas, merges, group-bys; no quality gate, lineage, suppression, matching or audit. It is the
yardstick the scale issue compares the real job's CPU time with, not a second implementation
of the KPIs (its definitions are simpler: any completed or passed enrollment, any move or
promotion within a year of completion, the mean of the months around the program).

- completion rate by program type;
- internal mobility: completers with a promotion, transfer or lateral move within 365 days;
- retention: completers not terminated within 365 days of completion;
- productivity: naive before/after (6 months before the start vs months 3-9 after completion,
  relative change of the worker's mean, per metric) and a simple DiD against the mean of all
  non-participants with that metric over the same calendar months.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def latest(landing: Path, pattern: str) -> pd.DataFrame:
    return pd.read_csv(sorted(landing.glob(pattern))[-1])


def main(landing: str, out: str) -> int:
    landing = Path(landing)
    programs = latest(landing, "lms/programs_*.csv")
    enrollments = latest(landing, "lms/enrollments_*.csv").merge(
        programs[["program_id", "program_type"]], on="program_id", how="left")
    workers = latest(landing, "hris/workers_*.csv")
    jobs = latest(landing, "hris/job_history_*.csv")
    productivity = pd.concat([pd.read_csv(p) for p in sorted(landing.glob("performance/productivity_*.csv"))])

    for frame, columns in ((enrollments, ["started_at", "completion_date"]), (workers, ["termination_date"]),
                           (jobs, ["effective_date"]), (productivity, ["period"])):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
    enrollments["completed"] = enrollments["status"].isin(["completed", "passed"])
    result = {"completion_rate": enrollments.groupby("program_type")["completed"].mean().round(4).to_dict()}

    completers = enrollments[enrollments["completed"] & enrollments["completion_date"].notna()
                             & enrollments["started_at"].notna()].drop_duplicates("worker_id")
    year_after = completers["completion_date"] + pd.Timedelta(days=365)

    moves = jobs[jobs["event_reason"].isin(["promotion", "transfer", "lateral"])]
    moved = completers[["worker_id", "completion_date"]].merge(moves[["worker_id", "effective_date"]], on="worker_id")
    moved = moved[(moved["effective_date"] > moved["completion_date"])
                  & (moved["effective_date"] <= moved["completion_date"] + pd.Timedelta(days=365))]
    completers = completers.assign(moved=completers["worker_id"].isin(moved["worker_id"]))
    result["internal_mobility"] = completers.groupby("program_type")["moved"].mean().round(4).to_dict()

    gone = completers.merge(workers[["worker_id", "termination_date"]], on="worker_id", how="left")
    gone["retained"] = ~(gone["termination_date"].notna() & (gone["termination_date"] <= year_after.values))
    result["retention"] = gone.groupby("program_type")["retained"].mean().round(4).to_dict()

    # one series per worker and metric: a reskilled worker's new job counts other units
    output = productivity.groupby(["worker_id", "metric", "period"], as_index=False)["value"].sum()
    months = output.merge(completers[["worker_id", "program_type", "started_at", "completion_date"]], on="worker_id")
    pre = (months["period"] >= months["started_at"] - pd.DateOffset(months=6)) & (months["period"] < months["started_at"])
    post = ((months["period"] >= months["completion_date"] + pd.DateOffset(months=3))
            & (months["period"] < months["completion_date"] + pd.DateOffset(months=9)))
    months["window"] = None
    months.loc[pre, "window"] = "pre"
    months.loc[post, "window"] = "post"
    means = months.dropna(subset=["window"]).pivot_table(index=["worker_id", "metric", "program_type"], columns="window",
                                                         values="value", aggfunc="mean").dropna()
    means = means[means["pre"] > 0]
    means["change"] = means["post"] / means["pre"] - 1

    others = output[~output["worker_id"].isin(completers["worker_id"])].groupby(["metric", "period"])["value"].mean()
    windows = months.dropna(subset=["window"])[["worker_id", "metric", "period", "window"]].drop_duplicates()
    windows = windows.merge(others.rename("others").reset_index(), on=["metric", "period"])
    control = windows.pivot_table(index=["worker_id", "metric"], columns="window", values="others", aggfunc="mean")
    means = means.join(control.rename(columns={"pre": "others_pre", "post": "others_post"}),
                       on=["worker_id", "metric"]).dropna()
    means["did"] = means["change"] - (means["others_post"] / means["others_pre"] - 1)
    by_type = means.groupby(level="program_type")
    result["productivity_naive_pct"] = (100 * by_type["change"].mean()).round(2).to_dict()
    result["productivity_did_pct"] = (100 * by_type["did"].mean()).round(2).to_dict()
    Path(out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
