"""Privacy (SECURITY.md): keyed pseudonyms, the key and the run mode, free-text redaction, the
canary scan itself, and a production run without a key. The canary scan of everything outside the
raw zone after a real run, and its owner-only files, are tests/integration/test_privacy_run.py."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from training_impact.privacy import (DEVELOPMENT_KEY, PII_COLUMNS, WORKER_ID_COLUMNS, PseudonymKeyError, Pseudonymizer,
                     pseudonymize, require_key)
from training_impact.privacy import redaction
from training_impact.privacy.keys import MIN_KEY_BYTES, key_id, resolve_key, run_mode
from privacy_support import DEV_KEY, _WORD, _leaks, _scan_duckdb
from repo_paths import REPO_ROOT

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
    from training_impact.privacy.dbt_plugin import Plugin

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
    from training_impact.ingestion.schemas import load_schemas

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
    from training_impact.synthetic.catalog import LOCATIONS
    from training_impact.synthetic.people import IdentityFactory

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
    from training_impact.privacy.dbt_plugin import register_functions

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


# ----------------------------------------------------------------------------- the canary scan

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

    from training_impact.orchestration.defs.ingestion import ingestion_assets

    root = tmp_path / "data"
    (root / "landing" / "hris").mkdir(parents=True)
    monkeypatch.setenv("TI_DATA_DIR", str(root))
    monkeypatch.setenv("TI_ENV", "production")
    for name in ("TI_PSEUDONYM_KEY", "TI_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    from training_impact.orchestration.resources import unset_resources
    from training_impact.orchestration.run_guard import run_guard  # every asset takes the run lock first (DECISIONS D80)

    hris = next(a for a in ingestion_assets if a.op.name == "ingest_hris")
    with pytest.raises(PseudonymKeyError):
        # the code location's settings resources, unset: they take this process's environment when used
        with dg.instance_for_test() as instance:
            dg.materialize([hris], instance=instance, resources={"run_guard": run_guard, **unset_resources()})
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


def test_arrow_pseudonyms_are_the_same_from_the_cache_and_after_it_empties(monkeypatch):
    """The arrow form remembers pseudonyms across calls (a worker appears once a month of
    history): every value equals the HMAC computed afresh, on a first call, on cache hits,
    with nulls, and after the bounded cache was emptied."""
    from training_impact.privacy import pseudonym

    monkeypatch.setattr(pseudonym, "MAX_CACHED", 5)
    key = b"k" * 32
    p = Pseudonymizer(key)

    def expected(v):
        return None if v is None else "p_" + hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:24]

    batches = [["a", "b", None, "a"], ["b", "c", "d", "e", "f", "g"], ["a", "g", None, "h"], ["a"]]
    for batch in batches:
        assert p.arrow(pa.array(batch, pa.string())).to_pylist() == [expected(v) for v in batch]
    assert len(p._cache) <= 5 + 6  # emptied once past the bound, then refilled by one batch at most
    assert None not in p._cache
