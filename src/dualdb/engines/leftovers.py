"""Crash safety on a server the user gave: drop the databases a killed run left behind.

A local server dies with pytest and is reaped by ``server.reap_leftovers``.
On a user's server (``--dualdb-pg-url``) the plugin's ``dualdb_*`` databases
would stay forever after a ``kill -9``. So each run records, per server, the
databases it creates; the next run on the same server drops those whose
owning process is gone — and only those: names it recorded itself, with the
``dualdb_`` prefix.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, Engine

from dualdb.capture.process_state import system_token_hex
from dualdb.engines import postgres
from dualdb.engines.server.files import default_cache_dir
from dualdb.engines.server.ledger import atomic_write_json, claim_if_orphaned, read_record
from dualdb.engines.server.process import alive, process_started


def server_key(url: URL) -> str:
    """Identifies a server and role without secrets: ``user@host:port``."""
    host = url.host or url.query.get("host") or "localhost"
    return f"{url.username or ''}@{host}:{url.port or 5432}"


class DatabaseLedger:
    """This run's record of databases created on one external server."""

    def __init__(self, key: str, state_dir: Path | None = None):
        self.key = key
        self.dir = state_dir or default_cache_dir() / "external"
        self.path = self.dir / f"{system_token_hex(16)}.json"
        self.databases: list[str] = []

    def add(self, name: str) -> None:
        self.databases.append(name)
        self._write()

    def remove(self, name: str) -> None:
        if name in self.databases:
            self.databases.remove(name)
        self._write()

    def close(self) -> None:
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            self.path,
            {
                "owner_pid": os.getpid(),
                "owner_started": process_started(os.getpid()),
                "server": self.key,
                "databases": self.databases,
            },
        )


def reap_databases(admin: Engine, key: str, state_dir: Path | None = None) -> list[str]:
    """Drop databases recorded by dead runs on this server; return what was done."""
    folder = state_dir or default_cache_dir() / "external"
    if not folder.is_dir():
        return []
    lines = []
    for path in sorted(folder.iterdir()):
        data = read_record(path) if path.suffix == ".json" else None
        if data is None or data.get("server") != key or alive(data.get("owner_pid"), data.get("owner_started")):
            continue
        claimed = claim_if_orphaned(path)
        if claimed is None:
            continue
        for name in data.get("databases", []):
            if name.startswith(postgres.DB_PREFIX):
                postgres.drop_database(admin, name)
                lines.append(f"dropped database {name} left by dead pytest process {data.get('owner_pid')}")
        claimed.unlink(missing_ok=True)
    return lines
