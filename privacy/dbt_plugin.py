"""dbt-duckdb plugin: the privacy functions on dbt's DuckDB connection.

Registered in dbt_project/profiles.yml (``plugins: - module: privacy.dbt_plugin``).
The key is read here, from the environment dagster-dbt passes to its dbt
subprocess, and lives only inside the Python functions: it never appears in
compiled SQL, dbt vars, logs, ``target/`` or the warehouse. Without a key a
production run stops at the first connection (privacy.keys).

Functions (the dbt macros in macros/privacy.sql call them):
  ti_pseudonym(varchar) -> varchar          HMAC-SHA256 pseudonym of a worker id
  ti_text_terms(varchar) -> varchar[]       the words and id keys of a free text
  ti_name_tokens(varchar) -> varchar[]      the words of a roster name that count as a name
  ti_id_key(varchar) -> varchar             a national id as compared (no separators, upper case)
  ti_redact(varchar, varchar[], varchar[]) -> varchar
                                            free text without e-mails, phones and the given
                                            roster names / national ids
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from . import redaction
from .keys import require_key
from .pseudonym import Pseudonymizer



class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # resolved when a connection opens, not at parse time: `dbt parse` needs no key
        self._pseudonymizer: Pseudonymizer | None = None

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        if self._pseudonymizer is None:
            self._pseudonymizer = Pseudonymizer(require_key())
        register_functions(conn, self._pseudonymizer)


def register_functions(conn: DuckDBPyConnection, pseudonymizer: Pseudonymizer) -> None:
    """Register the functions on a DuckDB connection (also used by the tests)."""
    text_list = conn.list_type(VARCHAR)
    conn.create_function("ti_pseudonym", pseudonymizer.arrow, [VARCHAR], VARCHAR, type="arrow")
    conn.create_function("ti_text_terms", redaction.text_terms_arrow, [VARCHAR], text_list, type="arrow")
    conn.create_function("ti_name_tokens", redaction.name_tokens_arrow, [VARCHAR], text_list, type="arrow")
    conn.create_function("ti_id_key", redaction.id_key_arrow, [VARCHAR], VARCHAR, type="arrow")
    conn.create_function("ti_redact", redaction.redact_arrow, [VARCHAR, text_list, text_list], VARCHAR,
                         type="arrow", null_handling="special")
