"""Test support for publishing: a throwaway PostgreSQL server, a tiny fake warehouse.

The server: Debian's binaries, initdb + pg_ctl in a temp dir.

PostgreSQL refuses to run as root, so when the tests run as root (CI does) the
server runs as the ``postgres`` OS user the Debian package creates. It listens on
127.0.0.1 on a free port with ``trust`` authentication (any role name is accepted
without a password), which is what lets a test connect as each role it creates.
No mocks: the privilege checks are the server's own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BINARIES = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = "apt-get install -y postgresql (the Debian package); .ci/run installs it"


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<major>/bin with the server binaries, else the PATH's."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if all((Path(folder) / name).exists() for name in BINARIES):
            return Path(folder)
    found = [shutil.which(name) for name in BINARIES]
    if all(found):
        return Path(found[0]).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    user: str | None  # OS user the server runs as (None: the current user)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def dsn(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={user} dbname={dbname} connect_timeout=10"

    def _run(self, *args: str) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], cwd=self.root, env=env, user=self.user,
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:1])} failed: {result.stdout}\n{result.stderr}\n{log}")

    @classmethod
    def start(cls, bindir: Path) -> "PostgresServer":
        user = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as error:
                raise RuntimeError("running as root but there is no `postgres` OS user to run the server") from error
            user = "postgres"
        root = Path(tempfile.mkdtemp(prefix="ti-postgres-"))
        if user:
            os.chown(root, account.pw_uid, account.pw_gid)
        server = cls(bindir=bindir, root=root, port=_free_port(), user=user)
        server._run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--locale=C", "--no-sync", "--no-instructions")
        options = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40")
        server._run("pg_ctl", "-D", str(server.data), "-l", str(server.log), "-w", "-t", "60", "-o", options, "start")
        return server

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_or_skip():
    """Start a server; skip when the binaries are absent, but fail instead under CI=true."""
    import pytest

    bindir = find_bindir()
    if bindir is None:
        message = f"PostgreSQL server binaries ({', '.join(BINARIES)}) not found: {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: the PostgreSQL tests must run)")
        pytest.skip(message)
    return PostgresServer.start(bindir)


# A tiny warehouse with two contract-enforced marts, for tests that need no pipeline run.
FAKE_CONTRACTS = {
    "kpi_alpha": [("kpi", "varchar"), ("program_type", "varchar"), ("evaluation_level", "integer"),
                  ("n", "bigint"), ("estimate", "double"), ("suppressed", "boolean")],
    "kpi_beta": [("kpi", "varchar"), ("estimate", "double")],
}


def write_fake_manifest(path: Path, marts: dict = FAKE_CONTRACTS) -> Path:
    """A dbt manifest holding only what publishing reads: marts/kpi_* models and their contracts."""
    import json

    nodes = {
        f"model.training_impact.{name}": {
            "resource_type": "model", "name": name, "fqn": ["training_impact", "marts", name],
            "schema": "main_marts", "alias": name, "description": f"The {name} mart.",
            "config": {"contract": {"enforced": True}},
            "columns": {col: {"name": col, "data_type": kind, "description": f"{col} of {name}"}
                        for col, kind in columns},
        }
        for name, columns in marts.items()
    }
    nodes["model.training_impact.stg_x"] = {"resource_type": "model", "name": "stg_x",
                                            "fqn": ["training_impact", "staging", "stg_x"], "columns": {}}
    path.write_text(json.dumps({"nodes": nodes}), encoding="utf-8")
    return path


def write_fake_warehouse(path: Path, version: int = 1, with_nulls: bool = False) -> Path:
    """Marts whose values depend on ``version``; ``with_nulls`` suppresses a cell (nulls in n/estimate)."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists main_marts")
        con.execute("create or replace table main_marts.kpi_alpha (kpi varchar, program_type varchar, "
                    "evaluation_level integer, n bigint, estimate double, suppressed boolean)")
        con.execute("insert into main_marts.kpi_alpha values ('completion_rate', 'upskilling', 0, ?, ?, false), "
                    "('completion_rate', 'reskilling', 0, ?, ?, ?)",
                    [10 * version, 50.0 + version, None if with_nulls else 7, None if with_nulls else 0.25,
                     with_nulls])
        con.execute("create or replace table main_marts.kpi_beta (kpi varchar, estimate double)")
        con.execute("insert into main_marts.kpi_beta select 'roi', i * ? from range(5) t(i)", [float(version)])
    return path
