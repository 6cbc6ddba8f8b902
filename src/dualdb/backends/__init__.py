"""Provisioning: turn settings into ready backends (engine + schema), lazily and once.

``Provisioner`` owns everything the run creates — the SQLite folder, the local
server, the throwaway PostgreSQL databases — and removes exactly that on close.
"""

from __future__ import annotations

import dataclasses
import itertools
import zlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import MetaData, text
from sqlalchemy.engine import URL, Engine

from ..config import Settings
from ..errors import BackendError
from ..schema import SchemaState, create_tables, needs_refresh
from . import postgres, sqlite


@dataclass
class Backend:
    """One ready engine: what fixtures hand to tests as ``dualdb_backend``."""

    name: str
    engine: Engine
    url: str
    version: str
    collation: str | None = None
    schema: SchemaState = field(default_factory=SchemaState)
    warning: str | None = None
    sequence_reset: str | None = None  # PostgreSQL: cached statement, rebuilt when the schema grows
    migration: object | None = None  # migrations.MigrationRun when the schema came from Alembic

    def __repr__(self) -> str:
        return f"<Backend {self.name} {self.version}>"

    def describe(self) -> dict:
        info = {"version": self.version, "url": self.url}
        if self.collation is not None:
            info["collation"] = self.collation
        return info


class Provisioner:
    """Creates backends on first use and tears down only what it created."""

    def __init__(self, settings: Settings, metadata_loader: Callable[[], list[MetaData]], worker: str = "main"):
        self.settings = settings
        self._load_metadata = metadata_loader
        self._metadatas: list[MetaData] | None = None
        self.worker = worker
        self._backends: dict[str, Backend] = {}
        self._tmpdir: Path | None = None
        self._server = None
        self._pg_admin: Engine | None = None
        self._pg_base_url: URL | None = None
        self._pg_info: postgres.ServerInfo | None = None
        self._pg_databases: list[str] = []
        self._pg_template: str | None = None
        self._fresh_counter = itertools.count(1)
        self._ledger = None
        self._template_schema: SchemaState | None = None  # the run's template, when this process built it
        self._migrations = None
        self.warnings: list[str] = []

    # -- shared pieces -------------------------------------------------------------

    @property
    def metadatas(self) -> list[MetaData]:
        if self._metadatas is None:
            self._metadatas = self._load_metadata()
        return self._metadatas

    @property
    def tmpdir(self) -> Path:
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix=f"dualdb-{self.worker}-"))
        return self._tmpdir

    def get(self, name: str) -> Backend:
        """The backend called ``name``, provisioned on first use."""
        backend = self._backends.get(name)
        if backend is None:
            backend = self._provision_sqlite() if name == "sqlite" else self._provision_postgres()
            self._backends[name] = backend
        self.refresh_schema(backend)
        return backend

    def provisioned(self) -> dict[str, Backend]:
        return dict(self._backends)

    def refresh_schema(self, backend: Backend) -> None:
        """Create tables registered since the last look (e.g. by an imported test module)."""
        if self.settings.alembic_config:
            if backend.migration is None:
                backend.migration = self.build_schema(backend.engine, backend.name, backend.schema, main=True)
            return
        if needs_refresh(self.metadatas, backend.schema):
            create_tables(backend.engine, self.metadatas, backend.schema)
            backend.sequence_reset = None

    def build_schema(self, engine: Engine, name: str, state: SchemaState, *, main: bool = False):  # noqa: ANN201
        """The one place a new database gets its schema: the project's Alembic migrations
        (``dualdb_alembic_config``) or ``create_all`` of ``dualdb_metadata``."""
        if not self.settings.alembic_config:
            return create_tables(engine, self.metadatas, state)
        from ..migrations import install_failure_notes

        run = self.migrations.upgrade(engine, name, record=main)
        state.seen_tables = sum(len(m.tables) for m in self.metadatas)
        if main:
            install_failure_notes(engine, self._backends[name])
        return run

    @property
    def migrations(self):  # noqa: ANN201 - migrations.Migrations
        if self._migrations is None:
            from ..migrations import Migrations

            self._migrations = Migrations(
                self.settings.alembic_config, self.settings.alembic_revision, lambda: self.metadatas
            )
        return self._migrations

    def schema_findings(self) -> list[dict]:
        """Migration and drift findings of the backends built here (``Report.schema_findings``)."""
        return self._migrations.findings() if self._migrations is not None else []

    # -- SQLite --------------------------------------------------------------------

    def _provision_sqlite(self) -> Backend:
        path = self.tmpdir / "sqlite.db"
        engine = sqlite.make_engine(
            path,
            self.settings.sqlite_pragmas,
            busy_timeout_ms=self.settings.lock_timeout_ms,
            recording=self.settings.dual,
        )
        return Backend(name="sqlite", engine=engine, url=f"sqlite:///{path}", version=sqlite.version())

    # -- PostgreSQL ----------------------------------------------------------------

    def _pg_server_url(self) -> URL:
        if self._pg_base_url is None:
            if self.settings.pg_url:
                self._pg_base_url = postgres.parse_url(self.settings.pg_url)
            else:
                self._pg_base_url = postgres.parse_url(self._start_local_server())
        return self._pg_base_url

    def shared_server_url(self) -> str | None:
        """For xdist: the URL of a local server all workers share, started here once.

        ``None`` when no PostgreSQL leg will run or the user gave a server
        (workers read ``--dualdb-pg-url``/``DUALDB_PG_URL`` themselves).
        """
        wants_pg = self.settings.dual or self.settings.default_backend == "postgresql"
        if not wants_pg or self.settings.pg_url:
            return None
        return self._pg_server_url().render_as_string(hide_password=False)

    def check_server(self) -> None:
        """Reach the PostgreSQL server (starting the local one) and check its privileges, if a
        PostgreSQL leg will run; raises ``BackendError`` with the one-line reason."""
        if self.settings.dual or self.settings.default_backend == "postgresql":
            self._admin()

    def _start_local_server(self) -> str:
        from .binaries import BinariesNotFound, find_binaries
        from .server import ServerError, reap_leftovers, start_server

        try:
            binaries = find_binaries(self.settings.pg_binaries)
        except BinariesNotFound as exc:
            raise BackendError(str(exc)) from None
        for line in reap_leftovers():
            self.warnings.append(f"reaped leftover from a killed run: {line}")
        try:
            self._server = start_server(binaries, timezone=self.settings.pg_timezone)
        except ServerError as exc:
            raise BackendError(f"could not start a local PostgreSQL: {exc}") from None
        return self._server.url

    def _admin(self) -> Engine:
        if self._pg_admin is None:
            url = self._pg_server_url()
            self._pg_admin = postgres.admin_engine(url)
            self._pg_info = postgres.check_server(self._pg_admin, postgres.mask(url))
            if self._server is None and not self.settings.shared_server:
                self._start_ledger(url)
        return self._pg_admin

    def _start_ledger(self, url: URL) -> None:
        """On the user's server: reap what killed runs left, and record what this run creates."""
        from .leftovers import DatabaseLedger, reap_databases, server_key

        key = server_key(url)
        for line in reap_databases(self._pg_admin, key):
            self.warnings.append(f"reaped leftover from a killed run: {line}")
        self._ledger = DatabaseLedger(key)

    def _create_pg_database(self, template: str = "template0") -> tuple[str, str, str | None]:
        admin = self._admin()
        collation, warning = postgres.choose_collation(self._pg_info, self.settings.pg_collation)
        name = postgres.new_database_name()
        postgres.create_database(admin, name, collation, template=template)
        self._track_created(name)
        return name, collation, warning

    # -- the run's template: the schema built once, cloned per run / xdist worker ------------

    @property
    def template_name(self) -> str:
        return f"{postgres.DB_PREFIX}{self.settings.run_id}_tpl"

    def _run_template(self) -> str:
        """The run's schema-only template database, built once (whichever worker is first).

        An advisory lock on the server serialises the workers of one run: the
        first builds the template, the others find it. It is dropped by whoever
        owns the run (the serial run itself, or the xdist controller).
        """
        admin = self._admin()
        name = self.template_name
        key = zlib.crc32(name.encode())
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
                if not exists:
                    self._build_template(name)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return name

    def _build_template(self, name: str) -> None:
        collation, _ = postgres.choose_collation(self._pg_info, self.settings.pg_collation)
        postgres.create_database(self._admin(), name, collation)
        self._track_created(name)
        engine = postgres.make_engine(self._pg_server_url().set(database=name))
        try:
            self._template_schema = create_tables(engine, self.metadatas, SchemaState())
        finally:
            engine.dispose()  # a template must have no connections left

    def _track_created(self, name: str) -> None:
        self._pg_databases.append(name)
        if self._server is not None:
            from .server import record_database

            record_database(self._server, name)
        elif self._ledger is not None:
            self._ledger.add(name)

    def drop_run_template(self) -> None:
        """xdist controller: drop the template the workers shared (if one was built)."""
        if not self.settings.dual and self.settings.default_backend != "postgresql":
            return
        if self._server is not None:
            return  # our own server: stopping it deletes its whole cluster
        admin = self._admin()
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.template_name}
            ).scalar()
        if exists:
            postgres.drop_database(admin, self.template_name)

    def _provision_postgres(self) -> Backend:
        template = "template0"
        if not self.settings.alembic_config:
            template = self._run_template()
        name, collation, warning = self._create_pg_database(template=template)
        if warning:
            self.warnings.append(warning)
        url = self._pg_server_url().set(database=name)
        engine = postgres.make_engine(
            url, timezone=self.settings.pg_timezone, lock_timeout_ms=self.settings.lock_timeout_ms
        )
        backend = Backend(
            name="postgresql",
            engine=engine,
            url=postgres.mask(url),
            version=self._pg_info.version,
            collation=collation,
            warning=warning,
        )
        if self._template_schema is not None:  # a clone of what this process just built: nothing to check
            backend.schema = dataclasses.replace(
                self._template_schema,
                created=set(self._template_schema.created),
                failed=dict(self._template_schema.failed),
            )
        return backend

    # -- fresh databases for db_fresh_engine ---------------------------------------

    def fresh_engine(self, name: str) -> tuple[Engine, Callable[[], None]]:
        """A plain engine on a brand-new database with the schema, and its cleanup."""
        backend = self.get(name)
        if name == "sqlite":
            path = self.tmpdir / f"fresh-{next(self._fresh_counter)}.db"
            engine = sqlite.make_engine(path, self.settings.sqlite_pragmas, isolated=False)
            self.build_schema(engine, name, SchemaState())

            def cleanup() -> None:
                engine.dispose()
                path.unlink(missing_ok=True)

            return engine, cleanup
        built = self._template_schema
        if not self.settings.alembic_config and built is not None and backend.schema.seen_tables == built.seen_tables:
            template = self._run_template()  # the run's template still has the whole schema
        else:
            template = self._fresh_template(backend)
        db_name, _, _ = self._create_pg_database(template=template)
        engine = postgres.make_engine(self._pg_server_url().set(database=db_name), timezone=self.settings.pg_timezone)

        def cleanup() -> None:
            engine.dispose()
            self._drop(db_name)

        return engine, cleanup

    def _fresh_template(self, backend: Backend) -> str:
        """A schema-only database nobody stays connected to, cloned for each fresh engine."""
        if self._pg_template is None or needs_refresh(self.metadatas, backend.schema):
            if self._pg_template is not None:
                self._drop(self._pg_template)
            name, _, _ = self._create_pg_database()
            engine = postgres.make_engine(self._pg_server_url().set(database=name))
            try:
                self.build_schema(engine, backend.name, SchemaState())
            finally:
                engine.dispose()
            self._pg_template = name
        return self._pg_template

    def _drop(self, name: str) -> None:
        postgres.drop_database(self._admin(), name)
        if name in self._pg_databases:
            self._pg_databases.remove(name)
        self._forget(name)

    def _forget(self, name: str) -> None:
        if self._server is not None:
            from .server import forget_database

            forget_database(self._server, name)
        elif self._ledger is not None:
            self._ledger.remove(name)

    # -- teardown --------------------------------------------------------------------

    def close(self) -> list[str]:
        """Dispose engines, drop the databases we created, stop our server; return problems."""
        problems: list[str] = []
        for backend in self._backends.values():
            backend.engine.dispose()
        if self.settings.shared_template and self.template_name in self._pg_databases:
            self._pg_databases.remove(self.template_name)  # the xdist controller drops it
            self._forget(self.template_name)
        if self._server is not None or self.settings.shared_server:
            self._pg_databases.clear()  # a private server of this run: its cluster is deleted with it
        for name in list(self._pg_databases):
            try:
                self._drop(name)
            except Exception as exc:  # keep tearing down the rest
                problems.append(f"could not drop {name}: {exc}")
        if self._pg_admin is not None:
            self._pg_admin.dispose()
        if self._ledger is not None and not self._pg_databases:
            self._ledger.close()
        if self._server is not None:
            try:
                self._server.stop()
            except Exception as exc:
                problems.append(f"could not stop the local PostgreSQL: {exc}")
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        self._backends.clear()
        return problems
