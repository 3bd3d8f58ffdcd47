"""Privacy (SECURITY.md): keyed pseudonyms, free-text redaction, owner-only files, and
a canary scan of everything outside the raw zone after a real run."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from privacy import (DEVELOPMENT_KEY, PII_COLUMNS, WORKER_ID_COLUMNS, PseudonymKeyError, Pseudonymizer,
                     pseudonymize, require_key)
from privacy import redaction
from privacy.keys import MIN_KEY_BYTES, key_id, resolve_key, run_mode

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_KEY = DEVELOPMENT_KEY.encode()
SECRET = "s" * MIN_KEY_BYTES


# ----------------------------------------------------------------------------- pseudonyms

def test_pseudonym_is_hmac_sha256_of_the_worker_id():
    key = b"k" * 40
    expected = "p_" + hmac.new(key, "W0000042".encode(), hashlib.sha256).hexdigest()[:24]
    assert pseudonymize("W0000042", key) == expected
    assert pseudonymize("W0000042", b"other" * 8) != expected
    assert pseudonymize(None, key) is None
    for key in (b"x" * 64, b"y" * 100, "clé-ünïcode".encode() * 4):    # block-sized and hashed-down keys
        for worker_id in ("W1", "Zoë", ""):
            assert pseudonymize(worker_id, key) == \
                "p_" + hmac.new(key, worker_id.encode(), hashlib.sha256).hexdigest()[:24]


def test_vectorised_pseudonyms_match_the_scalar_ones():
    p = Pseudonymizer(DEV_KEY)
    ids = ["W1", None, "W2", "W1", "Zoë-7", "W2"]
    out = p.arrow(pa.array(ids)).to_pylist()
    assert out == [p(v) for v in ids]
    assert out[0] == out[3] and out[0] != out[2] and out[1] is None
    assert p.arrow(pa.chunked_array([["W1"], ["W2"]])).to_pylist() == [p("W1"), p("W2")]


# ----------------------------------------------------------------------------- key and mode

def test_production_without_a_key_says_what_to_set():
    with pytest.raises(PseudonymKeyError) as error:
        require_key({})
    assert "TI_PSEUDONYM_KEY" in str(error.value) and "TI_PSEUDONYM_KEY_FILE" in str(error.value)
    assert "TI_ENV=development" in str(error.value)
    assert run_mode({}) == "production"


def test_development_falls_back_to_the_published_key_and_production_refuses_it():
    assert require_key({"TI_ENV": "development"}) == DEV_KEY
    assert require_key({"TI_ENV": "Development", "TI_PSEUDONYM_KEY": SECRET}) == SECRET.encode()
    with pytest.raises(PseudonymKeyError, match="development key cannot be used in production"):
        require_key({"TI_PSEUDONYM_KEY": DEVELOPMENT_KEY})
    with pytest.raises(PseudonymKeyError, match="not one of"):
        require_key({"TI_ENV": "staging"})


def test_key_from_the_environment_or_an_owner_only_file(tmp_path):
    assert require_key({"TI_PSEUDONYM_KEY": f"  {SECRET}\n"}) == SECRET.encode()
    with pytest.raises(PseudonymKeyError, match="shorter than"):
        require_key({"TI_PSEUDONYM_KEY": "short"})
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text(SECRET + "\n")
    key_file.chmod(0o644)
    with pytest.raises(PseudonymKeyError, match="chmod 600"):
        require_key({"TI_PSEUDONYM_KEY_FILE": str(key_file)})
    key_file.chmod(0o600)
    assert require_key({"TI_PSEUDONYM_KEY_FILE": str(key_file)}) == SECRET.encode()
    with pytest.raises(PseudonymKeyError, match="set only one"):
        resolve_key({"TI_PSEUDONYM_KEY_FILE": str(key_file), "TI_PSEUDONYM_KEY": SECRET})
    with pytest.raises(PseudonymKeyError, match="cannot read"):
        require_key({"TI_PSEUDONYM_KEY_FILE": str(tmp_path / "missing.key")})
    assert key_id(SECRET.encode()) != key_id(DEV_KEY) and len(key_id(DEV_KEY)) == 12


def test_dbt_plugin_refuses_to_open_a_connection_without_a_key(monkeypatch):
    from privacy.dbt_plugin import Plugin

    for name in ("TI_ENV", "TI_PSEUDONYM_KEY", "TI_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    plugin = Plugin(name="privacy", plugin_config={})    # parsing a project needs no key
    with pytest.raises(PseudonymKeyError, match="TI_PSEUDONYM_KEY"):
        plugin.configure_connection(duckdb.connect())
    monkeypatch.setenv("TI_PSEUDONYM_KEY", SECRET)
    conn = duckdb.connect()
    plugin.configure_connection(conn)
    assert conn.execute("select ti_pseudonym('W1')").fetchone()[0] == pseudonymize("W1", SECRET.encode())


def test_identifier_column_lists_agree_with_the_schema_and_the_dbt_macros():
    from ingestion.schemas import load_schemas

    schema_pii = {c.name for spec in load_schemas().entities.values() for c in spec.columns if c.pii}
    assert schema_pii == PII_COLUMNS
    macros = (REPO_ROOT / "dbt_project" / "macros")
    dbt_pii = set(re.findall(r"'(\w+)'", (macros / "pii_columns.sql").read_text()))
    assert dbt_pii == PII_COLUMNS
    privacy_sql = (macros / "privacy.sql").read_text()
    dbt_ids = set(re.findall(r"'(\w+)'", re.search(r"worker_id_columns.*?endmacro", privacy_sql, re.S).group(0)))
    assert dbt_ids == WORKER_ID_COLUMNS


# ----------------------------------------------------------------------------- redaction

def _identities():
    """Names, national ids and phone numbers in every locale the generator uses."""
    from synthetic.catalog import LOCATIONS
    from synthetic.people import IdentityFactory

    factory = IdentityFactory(11)
    factory.reseed(0)
    locations = np.repeat(np.arange(len(LOCATIONS)), 3)
    first, last, email, nid = factory.make(locations)
    phones = [factory.phone_number(LOCATIONS[i].locale) for i in locations.tolist()]
    return first, last, email, nid, phones


def test_generator_phone_numbers_of_every_locale_are_redacted():
    *_, phones = _identities()
    for phone in phones:
        text = f"Call me on {phone} if the trainers want details."
        out = redaction.redact(text)
        assert out == "Call me on [PHONE] if the trainers want details.", (phone, out)


@pytest.mark.parametrize("phone", ["+44 (0)20 7946 0958", "(897)409-5990x80666", "+32(0)83-4534814",
                                   "0043 664 123 4567", "026 473 38 56", "+351917175194"])
def test_phone_formats(phone):
    assert redaction.redact(f"ring {phone}.") == "ring [PHONE]."


def test_short_numbers_stay():
    text = "I rated it 9/10 after 2 weeks, module 3.2 took 45 minutes in 2024."
    assert redaction.redact(text) == text


def test_emails_are_redacted():
    assert redaction.redact("mail karl.bolander+lms@alderfinch.example or ÅSA@post.example.se!") == \
        "mail [EMAIL] or [EMAIL]!"


def test_roster_names_and_national_ids_are_redacted_via_the_words_found():
    first, last, email, nid, _ = _identities()
    for f, l, n in zip(first, last, nid):
        text = f"Special thanks to {f} {l}, who coached me. My national id is {n}."
        names = {t for name in (f, l) for t in redaction.name_tokens(name)}
        found = [t for t in redaction.text_terms(text) if t in names]
        ids = [t for t in redaction.text_terms(text) if t == redaction.id_key(n)]
        assert ids, (n, redaction.text_terms(text))
        out = redaction.redact(text, found, ids)
        assert not set(redaction.tokens(out)) & names, out
        assert n not in out and f"{f} {l}" not in out, out
        assert out.endswith("My national id is [NATIONAL_ID]."), out


@pytest.mark.parametrize("text,names,expected", [
    ("Thanks Åsa Sjöblom!", ["Åsa", "Sjöblom"], "Thanks [NAME] [NAME]!"),
    ("Kudos to Julita Półchłopek.", ["Julita", "Półchłopek"], "Kudos to [NAME] [NAME]."),
    ("Ask Seán O'Neill or Jean-Luc.", ["Seán", "O'Neill", "Jean-Luc"], "Ask [NAME] [NAME] or [NAME]."),
    ("Isabel de Werd helped. Ana van der Berg too.", ["Isabel", "Werd", "Ana", "Berg"],
     "[NAME] de [NAME] helped. [NAME] van der [NAME] too."),
    ("a rose by any name; Rose knows", ["Rose"], "a rose by any name; [NAME] knows"),
    ("Rosemary is not Rose", ["Rose"], "Rosemary is not [NAME]"),
    # a sentence's first word is a name only beside another roster word (My is a Swedish name)
    ("My manager helped. Thanks to My Larsson!", ["My", "Larsson"], "My manager helped. Thanks to [NAME] [NAME]!"),
    ("Karl Bolander helped, and Karl again.", ["Karl", "Bolander"], "[NAME] [NAME] helped, and [NAME] again."),
])
def test_name_words(text, names, expected):
    assert redaction.redact(text, names) == expected


@pytest.mark.parametrize("written,roster", [("ZZ 261191 T", "ZZ261191T"), ("zz261191t", "ZZ 261191 T"),
                                            ("756.2536.0941.73", "756.2536.0941.73"), ("811105 3875", "811105-3875")])
def test_national_ids_match_whatever_their_separators(written, roster):
    text = f"My id: {written}. Thanks"
    found = [t for t in redaction.text_terms(text) if t == redaction.id_key(roster)]
    assert redaction.redact(text, (), found) == "My id: [NATIONAL_ID]. Thanks"


def test_name_tokens_skip_lower_case_particles():
    assert redaction.name_tokens("de Werd") == ["Werd"]
    assert redaction.name_tokens("van der Berg-Lind") == ["Berg-Lind"]


def test_redaction_in_duckdb_matches_python():
    """The functions the dbt plugin registers, in SQL as the staging model calls them."""
    from privacy.dbt_plugin import register_functions

    conn = duckdb.connect()
    register_functions(conn, Pseudonymizer(DEV_KEY))
    row = conn.execute("""
        select ti_redact('Thanks Åsa Sjöblom, 811105-3875, a@b.example, +46 8 123 45 67',
                         ti_name_tokens('Åsa Sjöblom'), [ti_id_key('811105-3875')]),
               list_contains(ti_text_terms('id ZZ 26 11 91 T here'), ti_id_key('ZZ261191T')),
               ti_redact(null, null, null), ti_redact('plain', null, null), ti_pseudonym('W1')
    """).fetchone()
    assert row == ("Thanks [NAME] [NAME], [NATIONAL_ID], [EMAIL], [PHONE]", True, None, "plain",
                   pseudonymize("W1", DEV_KEY))


# ----------------------------------------------------------------------------- after a real run

def _canaries(paths) -> dict[str, str]:
    """Every direct identifier the generator planted or delivered: truth.json's canaries
    (free text and roster) plus each worker's name, e-mail, national id and raw id."""
    truth = json.loads(paths.truth.read_text(encoding="utf-8"))
    out = {c["value"]: f"truth canary {c['kind']}/{c.get('field', '')}" for c in truth["canaries"]}
    for path in sorted((paths.bronze / "workers").glob("*.parquet")):
        table = pq.read_table(path, columns=["worker_id", "first_name", "last_name", "email", "national_id"])
        for row in table.to_pylist():
            out[row["worker_id"]] = "worker_id"
            out[f"{row['first_name']} {row['last_name']}"] = "name"
            out[row["email"]] = "email"
            out[row["national_id"]] = "national_id"
    return {k: v for k, v in out.items() if k}


_WORD = re.compile(r"\w+")


def _leaks(text: str, canaries: dict[str, str], canary_words: dict[str, set]) -> list[str]:
    """Canaries found in text: every word of the canary present, then the exact string."""
    words = set(_WORD.findall(text))
    return [c for c, w in canary_words.items() if w <= words and c in text]


def _scan_duckdb(db_file: Path, canaries, canary_words, skip_schemas=()) -> dict[str, list[str]]:
    found = {}
    with duckdb.connect(str(db_file), read_only=True) as conn:
        columns = conn.execute("""
            select table_schema, table_name, column_name from information_schema.columns
            where data_type not in ('BIGINT', 'INTEGER', 'DOUBLE', 'BOOLEAN', 'DATE', 'HUGEINT', 'SMALLINT')
              and data_type not like 'DECIMAL%' and data_type not like 'TIMESTAMP%'
        """).fetchall()
        assert columns
        for schema, table, column in columns:
            if schema in skip_schemas:
                continue
            values = conn.execute(f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" '
                                  f'where "{column}" is not null').fetchall()
            hits = _leaks("\n".join(v for (v,) in values), canaries, canary_words)
            if hits:
                found[f"{schema}.{table}.{column}"] = hits
    return found


def test_the_scan_finds_a_planted_leak(tmp_path):
    canaries = {"Karl Bolander": "name", "W0000042": "worker_id", "ZZ 261191 T": "national_id"}
    words = {c: set(_WORD.findall(c)) for c in canaries}
    db = tmp_path / "leaky.duckdb"
    with duckdb.connect(str(db)) as conn:
        conn.execute("create schema marts")
        conn.execute("create table marts.t as select 1 as n, 'thanks to Karl Bolander!' as text, "
                     "['x', 'W0000042'] as ids, 'Karl alone' as other")
    assert _scan_duckdb(db, canaries, words) == {"marts.t.text": ["Karl Bolander"], "marts.t.ids": ["W0000042"]}
    assert _leaks("id ZZ 261191 T.", canaries, words) == ["ZZ 261191 T"]
    assert _leaks("Karl met Mr Bolander", canaries, words) == []


@pytest.fixture(scope="module")
def scanned(pipeline_run, tmp_path_factory):
    paths, _ = pipeline_run
    canaries = _canaries(paths)
    canary_words = {c: set(_WORD.findall(c)) for c in canaries}
    return paths, canaries, canary_words


def test_the_generator_planted_canaries_the_run_received(scanned):
    paths, canaries, canary_words = scanned
    assert {"worker_id", "name", "email", "national_id"} <= set(canaries.values())
    truth = json.loads(paths.truth.read_text(encoding="utf-8"))
    assert {c["kind"] for c in truth["canaries"]} == {"email", "phone", "roster_name", "national_id", "worker_record"}
    assert all(c["value"] in canaries for c in truth["canaries"])
    # the raw zone does hold them: a scan that finds nothing there would prove nothing
    bronze_text = "\n".join(str(v) for path in (paths.bronze / "survey_responses").glob("*.parquet")
                            for v in pq.read_table(path, columns=["feedback_text"]).column(0).to_pylist() if v)
    in_text = {c["value"] for c in truth["canaries"] if c["kind"] != "worker_record"}
    assert set(_leaks(bronze_text, canaries, canary_words)) >= in_text


def test_no_canary_in_the_warehouse_outside_bronze(scanned):
    paths, canaries, canary_words = scanned
    assert _scan_duckdb(paths.warehouse, canaries, canary_words) == {}


def test_no_canary_in_the_serving_copy_or_its_parquet(scanned):
    paths, canaries, canary_words = scanned
    serving = paths.root / "serving"
    assert (serving / "training_impact.duckdb").exists()
    assert _scan_duckdb(serving / "training_impact.duckdb", canaries, canary_words) == {}
    parquet = sorted((serving / "parquet").glob("*.parquet"))
    assert parquet
    for path in parquet:
        table = pq.read_table(path)
        text = "\n".join(str(v) for name in table.column_names for v in set(table.column(name).to_pylist()))
        assert _leaks(text, canaries, canary_words) == [], path


def _files(folder: Path, suffixes: tuple[str, ...]):
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes]


def test_no_canary_in_gx_results_data_docs_or_the_report(scanned):
    paths, canaries, canary_words = scanned
    gx_files = _files(paths.gx, (".json", ".html"))
    reports = _files(paths.root / "reports", (".html",))
    assert gx_files and reports
    for path in gx_files + reports:
        hits = _leaks(path.read_text(encoding="utf-8", errors="replace"), canaries, canary_words)
        assert hits == [], (path, hits[:5])


def test_no_canary_in_dagster_run_storage(scanned):
    """Asset metadata, check descriptions and logs the run stored."""
    paths, canaries, canary_words = scanned
    files = [p for p in Path(os.environ["DAGSTER_HOME"]).rglob("*") if p.is_file()]
    assert files
    for path in files:
        hits = _leaks(path.read_bytes().decode("utf-8", errors="replace"), canaries, canary_words)
        assert hits == [], (path, hits[:5])


def test_no_canary_in_the_quarantine_export_and_worker_ids_are_pseudonyms(scanned, tmp_path):
    from expectations.export import export_quarantine_csv

    paths, canaries, canary_words = scanned
    out = tmp_path / "quarantine.csv"
    assert export_quarantine_csv(paths.root, out) > 0
    text = out.read_text(encoding="utf-8-sig")
    assert _leaks(text, canaries, canary_words) == []
    assert not re.search(r"\bW\d{7}\b", text)            # not even an orphan's raw id
    rows = list(csv.DictReader(text.splitlines()))
    assert "record_json" not in rows[0]
    worker_values = [r["value"] for r in rows if r["column"] == "worker_id" and r["value"]]
    assert worker_values and all(v.startswith("p_") for v in worker_values)


def test_staging_carries_the_keyed_pseudonym_of_every_worker(scanned):
    paths, canaries, _ = scanned
    raw_ids = sorted(c for c, kind in canaries.items() if kind == "worker_id")
    with duckdb.connect(str(paths.warehouse), read_only=True) as conn:
        staged = {r[0] for r in conn.execute("select worker_id from main_staging.stg_hris__workers").fetchall()}
        survey_text = [r[0] for r in conn.execute(
            "select feedback_text from main_staging.stg_surveys__survey_responses where feedback_text like '%[%'"
        ).fetchall()]
    assert staged == {pseudonymize(w, DEV_KEY) for w in raw_ids}
    for placeholder in ("[EMAIL]", "[PHONE]", "[NAME]", "[NATIONAL_ID]"):
        assert any(placeholder in t for t in survey_text), placeholder


def test_the_key_never_reaches_dbt_artifacts_or_logs(scanned):
    """Compiled SQL, manifests, run results, dbt's log and Dagster's event log (the run's
    key is the published development key, so it is searchable)."""
    needle = DEVELOPMENT_KEY.encode()
    dbt_dir = REPO_ROOT / "dbt_project"
    checked = 0
    for folder in (dbt_dir / "target", dbt_dir / "logs", Path(os.environ["DAGSTER_HOME"])):
        for path in folder.rglob("*"):
            try:
                if path.is_file():
                    assert needle not in path.read_bytes(), path
                    checked += 1
            except FileNotFoundError:
                continue    # another dbt invocation cleaning its own target
    assert checked > 10


def test_raw_zone_and_warehouse_are_owner_only(scanned):
    paths, _, _ = scanned
    for folder in (paths.bronze, paths.bronze / "_quarantine", paths.rejected, paths.warehouse.parent, paths.gx):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [p for p in paths.bronze.rglob("*.parquet")] + [paths.warehouse]
    assert len(files) > 10
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


# ----------------------------------------------------------------------------- production without a key

_NO_KEY_RUN = """
import os, sys
from pathlib import Path
landing = os.path.realpath(sys.argv[1]) + os.sep
opened = []
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(landing) or path + os.sep == landing:
            opened.append(path)
sys.addaudithook(hook)
from training_impact.pipeline import run_pipeline
from training_impact.settings import data_paths
try:
    run_pipeline(data_paths(sys.argv[2]))
except Exception as error:
    print(type(error).__name__, error)
print("OPENED", len(opened), opened[:3])
"""


def test_production_run_without_a_key_stops_before_reading_any_file(tmp_path):
    root = tmp_path / "data"
    landing = root / "landing" / "hris"
    landing.mkdir(parents=True)
    (landing / "workers_2026-10-31.csv").write_text("worker_id,first_name,hire_date\nW0000001,Ada,2020-01-01\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TI_ENV", "TI_PSEUDONYM"))}
    result = subprocess.run([sys.executable, "-c", _NO_KEY_RUN, str(root / "landing"), str(root)],
                            env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert "PseudonymKeyError" in result.stdout, result.stdout + result.stderr
    assert "set TI_PSEUDONYM_KEY" in result.stdout and "TI_PSEUDONYM_KEY_FILE" in result.stdout
    assert "OPENED 0 []" in result.stdout, result.stdout
    assert not (root / "bronze").exists() and not (root / "warehouse").exists()


def test_an_ingestion_asset_without_a_key_fails_before_reading(tmp_path, monkeypatch):
    """Runs started by the daemon (schedule, sensor) never pass through run_pipeline."""
    import dagster as dg

    from orchestration.defs.ingestion import ingestion_assets

    root = tmp_path / "data"
    (root / "landing" / "hris").mkdir(parents=True)
    monkeypatch.setenv("TI_DATA_DIR", str(root))
    monkeypatch.setenv("TI_ENV", "production")
    for name in ("TI_PSEUDONYM_KEY", "TI_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    from orchestration.run_guard import run_guard  # every asset takes the run lock first (DECISIONS D80)

    hris = next(a for a in ingestion_assets if a.op.name == "ingest_hris")
    with pytest.raises(PseudonymKeyError):
        dg.materialize([hris], instance=dg.DagsterInstance.ephemeral(), resources={"run_guard": run_guard})
    assert not (root / "bronze").exists()


def test_the_cli_says_what_to_set_without_a_traceback(tmp_path, monkeypatch, capsys):
    from training_impact.cli import main

    monkeypatch.setenv("TI_ENV", "production")
    for name in ("TI_PSEUDONYM_KEY", "TI_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("training-impact: TI_ENV is production") and "TI_PSEUDONYM_KEY_FILE" in err
    assert not (tmp_path / "data").exists()


def test_no_canary_in_the_audit_trail_outside_its_input_copies(scanned):
    """Ledger, KPI history, trace members and OpenLineage events: pseudonyms only.
    (audit/inputs/ keeps the raw landing bytes for reproduction: raw zone, owner-only, SECURITY.md.)"""
    paths, canaries, canary_words = scanned
    audit = paths.root / "audit"
    files = [p for p in audit.rglob("*") if p.is_file() and "inputs" != p.relative_to(audit).parts[0]]
    assert any(p.suffix == ".parquet" for p in files) and (audit / "openlineage.ndjson") in files
    for path in files:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            text = "\n".join(str(v) for name in table.column_names for v in set(table.column(name).to_pylist()))
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
        assert _leaks(text, canaries, canary_words) == [], path
