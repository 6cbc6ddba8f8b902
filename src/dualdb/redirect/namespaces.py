"""SQLite's database identity, carried over to PostgreSQL.

On SQLite the URL says which database an engine sees: two engines on the same
file share its tables, and every ``:memory:`` engine starts empty and alone.
The PostgreSQL leg keeps exactly that:

* each distinct file path -> one throwaway database ``dualdb_<random>``,
  shared by every engine on that path for the whole worker;
* each ``:memory:`` engine -> a schema of its own (``dualdb_m<n>``) in one
  throwaway database of the worker, made the engine's ``search_path``: as empty
  as a new in-memory database, and ~1 ms to create where a database costs
  15-200 ms (suites often build one in-memory engine per test);
* a named shared-cache memory database (``file:name?mode=memory&cache=shared``)
  -> one schema per name.

Everything is created on demand, the first time an engine asks, and dropped
when the worker ends. On the user's server (``--dualdb-pg-url``) each database
is written to the run's ledger before it is created, so a run that was killed
is reaped by the next (``engines/leftovers.py``); the plugin's own local
server takes its whole cluster with it.
"""

from __future__ import annotations

import itertools
import os
import urllib.parse
from dataclasses import dataclass

from sqlalchemy.engine import URL

from dualdb.records import BackendInfo

MEMORY, SHARED_MEMORY, FILE = "memory", "shared-memory", "file"


def identity(url: URL) -> tuple[str, str]:
    """``(kind, key)`` of the SQLite database a URL names: what SQLite itself would open.

    A file path is made absolute against the current directory at engine
    creation, as sqlite3 resolves it; ``uri=true`` URLs are read the way
    SQLite reads ``file:`` URIs.
    """
    database = url.database or ""
    query = {k: str(v) for k, v in url.query.items()}
    if query.get("uri", "").lower() in ("true", "1") and database.startswith("file:"):
        path, _, raw = database[len("file:"):].partition("?")
        params = {**query, **dict(urllib.parse.parse_qsl(raw))}
        if params.get("mode") == "memory" or path in ("", ":memory:"):
            if params.get("cache") == "shared" and path not in ("", ":memory:"):
                return SHARED_MEMORY, path
            return MEMORY, ""
        database = urllib.parse.unquote(path)
    if database in ("", ":memory:"):
        return MEMORY, ""
    return FILE, os.path.realpath(os.path.abspath(database))


@dataclass(frozen=True)
class Place:
    """Where one redirected engine connects: a database, and a schema for memory engines."""

    url: URL
    schema: str | None
    label: str  # what SQLite would have opened, for notes


class Namespaces:
    """The PostgreSQL databases and schemas one worker creates for the suite's engines."""

    def __init__(self, server_url: str, *, collation: str = "auto", external: bool = False):
        from dualdb.engines import postgres

        self._postgres = postgres
        self.server = postgres.parse_url(server_url)
        self.requested_collation = collation
        self.external = external
        self._admin = None
        self.info = None
        self.collation: str | None = None
        self.warning: str | None = None
        self.files: dict[str, str] = {}  # absolute path -> database
        self.schemas: dict[str, str] = {}  # shared-memory name -> schema
        self.created: list[str] = []
        self._memory_db: str | None = None
        self._memory_conn = None
        self._counter = itertools.count(1)
        self._ledger = None

    # -- the server ----------------------------------------------------------------

    def admin(self):  # noqa: ANN201 - an AUTOCOMMIT Engine
        """Reach the server once: its version, what collation the databases get."""
        if self._admin is None:
            pg = self._postgres
            self._admin = pg.admin_engine(self.server)
            self.info = pg.check_server(self._admin, pg.mask(self.server))
            self.collation, self.warning = pg.choose_collation(self.info, self.requested_collation)
            if self.external:
                from dualdb.engines.leftovers import DatabaseLedger, server_key

                self._ledger = DatabaseLedger(server_key(self.server))
        return self._admin

    def describe(self) -> BackendInfo:
        """The PostgreSQL leg's entry in the report's ``backends``."""
        self.admin()
        return BackendInfo(
            self.info.version, self._postgres.mask(self.server), collation=self.collation,
            redirect="the suite's own engines, each SQLite database mapped to a dualdb_* database or schema",
        )

    def _create_database(self) -> str:
        admin = self.admin()
        name = self._postgres.new_database_name()
        if self._ledger is not None:
            self._ledger.add(name)  # recorded before it exists: a crash in between leaves nothing unrecorded
        self._postgres.create_database(admin, name, self.collation)
        self.created.append(name)
        return name

    # -- what an engine gets -------------------------------------------------------

    def place(self, url: URL) -> Place:
        """The PostgreSQL namespace for a SQLite URL, created if this is its first engine."""
        kind, key = identity(url)
        if kind == FILE:
            database = self.files.get(key)
            if database is None:
                database = self.files[key] = self._create_database()
            return Place(self.server.set(database=database), None, key)
        if kind == SHARED_MEMORY:
            schema = self.schemas.get(key)
            if schema is None:
                schema = self.schemas[key] = self._create_schema()
            return Place(self.server.set(database=self._memory_database()), schema, f"shared memory {key!r}")
        return Place(self.server.set(database=self._memory_database()), self._create_schema(), ":memory:")

    def _memory_database(self) -> str:
        if self._memory_db is None:
            self._memory_db = self._create_database()
        return self._memory_db

    def _create_schema(self) -> str:
        """A new, empty schema in the worker's memory database (one kept connection: ~1 ms)."""
        if self._memory_conn is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            engine = create_engine(self.server.set(database=self._memory_database()),
                                   isolation_level="AUTOCOMMIT", poolclass=NullPool)
            self._memory_conn = engine.connect()
        name = f"dualdb_m{next(self._counter)}"
        self._memory_conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        return name

    # -- the end -------------------------------------------------------------------

    def close(self) -> list[str]:
        """Drop every database created here (on the user's server); return problems."""
        problems: list[str] = []
        if self._memory_conn is not None:
            engine = self._memory_conn.engine
            self._memory_conn.close()
            engine.dispose()
        if self._admin is None:
            return problems
        for name in list(self.created):
            try:
                if self.external:  # the plugin's own server is deleted with its cluster
                    self._postgres.drop_database(self._admin, name)
                self.created.remove(name)
                if self._ledger is not None:
                    self._ledger.remove(name)
            except Exception as exc:  # keep dropping the others
                problems.append(f"could not drop {name}: {exc}")
        if self._ledger is not None and not self.created:
            self._ledger.close()
        self._admin.dispose()
        return problems
