"""Privacy controls between the raw zone and everything downstream (SECURITY.md).

- ``keys``: the pseudonymisation key (TI_PSEUDONYM_KEY / TI_PSEUDONYM_KEY_FILE) and
  the run mode (TI_ENV); production refuses to start without a key.
- ``pseudonym``: keyed HMAC-SHA256 pseudonyms for worker ids.
- ``redaction``: e-mails, phone numbers, roster names and national ids out of free text.
- ``permissions``: owner-only files for the raw zone, the warehouse and secrets.
- ``dbt_plugin``: registers the pseudonym and redaction functions on dbt's DuckDB
  connection, so the key never appears in SQL, vars, logs or manifests.
"""

from .keys import (
    DEVELOPMENT_KEY,
    ENV_KEY,
    ENV_KEY_FILE,
    ENV_MODE,
    PseudonymKeyError,
    key_id,
    require_key,
    run_mode,
)
from .permissions import private_umask
from .pseudonym import Pseudonymizer, pseudonymize

# Canonical columns holding a worker id: pseudonymised wherever they leave bronze
# (dbt macro worker_id_columns() says the same).
WORKER_ID_COLUMNS = frozenset({"worker_id", "manager_id", "evaluator_id", "actor_id"})
# Direct identifiers flagged pii: true in ingestion/canonical_schemas.yml.
PII_COLUMNS = frozenset({"first_name", "last_name", "email", "national_id", "recipient_first_name",
                         "recipient_last_name", "recipient_email", "ip_address"})
IDENTIFIER_COLUMNS = WORKER_ID_COLUMNS | PII_COLUMNS


def guard_run(key: bytes | None = None) -> bytes:
    """First thing a run does, before it opens any data file: the key must be
    usable (production stops here without one) and what the run writes from now on
    is owner-only. Returns the key: `key` when the caller resolved it already (the
    run's pseudonymisation resource), else the one the environment configures."""
    key = require_key() if key is None else key
    private_umask()
    return key


__all__ = [
    "DEVELOPMENT_KEY", "ENV_KEY", "ENV_KEY_FILE", "ENV_MODE", "IDENTIFIER_COLUMNS", "PII_COLUMNS",
    "PseudonymKeyError", "Pseudonymizer", "WORKER_ID_COLUMNS", "guard_run", "key_id", "pseudonymize",
    "require_key", "run_mode",
]
