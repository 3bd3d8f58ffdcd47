"""The parse floor: `python -m training_impact.benchmarks.parse_floor LANDING`.

DuckDB reads every landing file once into a typed table (types detected from the data), in
one in-memory database: the least work any pipeline over these files must do. CSV with a
header row; the Qualtrics survey exports' two extra header rows are skipped; xAPI as
newline-delimited JSON. Prints the rows read per family.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

import duckdb


def main(landing: str) -> int:
    con = duckdb.connect()
    rows: Counter = Counter()
    skipped: list[str] = []
    for number, path in enumerate(sorted(p for p in Path(landing).rglob("*") if p.is_file())):
        family = path.relative_to(landing).parts[0]
        if path.suffix == ".ndjson":
            source = "read_json(?, format = 'newline_delimited')"
        elif path.suffix == ".csv" and family == "surveys":
            # Qualtrics: column ids, then question texts and import ids (two rows that are not data)
            with open(path, newline="", encoding="utf-8-sig") as fh:
                names = next(csv.reader(fh))
            source = f"read_csv(?, header = false, skip = 3, names = {names!r})"
        elif path.suffix == ".csv":
            source = "read_csv(?, header = true)"
        else:
            continue  # mapping files, spreadsheets: not in the canonical bench company
        try:
            con.execute(f"create table t{number} as select * from {source}", [str(path)])
        except duckdb.Error:  # a planted defect the pipeline rejects too (no data rows, a broken line)
            skipped.append(str(path.relative_to(landing)))
            continue
        rows[family] += con.execute(f"select count(*) from t{number}").fetchone()[0]
    print(dict(rows), "files not parsed:", skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
