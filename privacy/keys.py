"""The pseudonymisation key and the run mode.

``TI_ENV`` is ``production`` unless set: a production run needs a key from
``TI_PSEUDONYM_KEY`` (the key itself) or ``TI_PSEUDONYM_KEY_FILE`` (a file only its
owner can read) and stops before reading any data without one. ``TI_ENV=development``
(the demo, ``make dev``, the tests) falls back to ``DEVELOPMENT_KEY``, which is
published here on purpose: its pseudonyms protect nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import stat
from collections.abc import Mapping
from pathlib import Path

from training_impact.settings import environment

ENV_MODE = "TI_ENV"
ENV_KEY = "TI_PSEUDONYM_KEY"
ENV_KEY_FILE = "TI_PSEUDONYM_KEY_FILE"
MODES = ("production", "development")
MIN_KEY_BYTES = 32
DEVELOPMENT_KEY = "training-impact development key - published, protects nothing"

_HOW_TO_SET = (
    f"set {ENV_KEY} to a random secret of at least {MIN_KEY_BYTES} characters "
    f"(e.g. `python -c \"import secrets; print(secrets.token_urlsafe(48))\"`) or {ENV_KEY_FILE} to a file "
    f"holding it that only its owner can read (chmod 600); for a demo or local development set "
    f"{ENV_MODE}=development instead (SECURITY.md)"
)


class PseudonymKeyError(RuntimeError):
    """No usable pseudonymisation key: the run must not read any data."""


def run_mode(environ: Mapping[str, str] | None = None) -> str:
    env = environment() if environ is None else environ
    mode = (env.get(ENV_MODE) or "production").strip().lower()
    if mode not in MODES:
        raise PseudonymKeyError(f"{ENV_MODE}={env.get(ENV_MODE)!r} is not one of {', '.join(MODES)}")
    return mode


def _read_key_file(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError as exc:
        raise PseudonymKeyError(f"{ENV_KEY_FILE}={path}: cannot read the key file ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise PseudonymKeyError(f"{ENV_KEY_FILE}={path} is not a regular file")
    if info.st_mode & 0o077:
        raise PseudonymKeyError(
            f"{ENV_KEY_FILE}={path} is readable or writable by group or others "
            f"(mode {stat.filemode(info.st_mode)}): run `chmod 600 {path}` first")
    return path.read_bytes().strip()


def resolve_key(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The configured key, or None when neither variable is set."""
    env = environment() if environ is None else environ
    value, file_name = env.get(ENV_KEY), env.get(ENV_KEY_FILE)
    if value and file_name:
        raise PseudonymKeyError(f"both {ENV_KEY} and {ENV_KEY_FILE} are set: set only one")
    if file_name:
        key = _read_key_file(Path(file_name))
        where = f"the file {file_name}"
    elif value:
        key = value.strip().encode("utf-8")
        where = ENV_KEY
    else:
        return None
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"the key in {where} is shorter than {MIN_KEY_BYTES} characters: {_HOW_TO_SET}")
    return key


def require_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The key for this run; raises PseudonymKeyError (saying what to set) when a
    production run has none, or has the published development key."""
    mode = run_mode(environ)
    key = resolve_key(environ)
    if mode == "development":
        return key or DEVELOPMENT_KEY.encode("utf-8")
    if key is None:
        raise PseudonymKeyError(f"{ENV_MODE} is production (the default) and no pseudonymisation key is set: "
                                f"{_HOW_TO_SET}")
    if hmac.compare_digest(key, DEVELOPMENT_KEY.encode("utf-8")):
        raise PseudonymKeyError(f"the published development key cannot be used in production: {_HOW_TO_SET}")
    return key


def key_id(key: bytes) -> str:
    """A short, non-reversible name for a key (which key made these pseudonyms?)."""
    return hmac.new(key, b"training-impact key id", hashlib.sha256).hexdigest()[:12]
