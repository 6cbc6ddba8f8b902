"""Provisioning: turn settings into ready backends (engine + schema), lazily and once.

``Provisioner`` owns everything the run creates — the SQLite folder, the local
server, the throwaway PostgreSQL databases — and removes exactly that on close.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import MetaData, text
from sqlalchemy.engine import URL, Engine

from dualdb.config import Settings
from dualdb.engines.schema import SchemaState, create_tables, needs_refresh
from dualdb.engines import postgres, sqlite
from dualdb.engines.templates import RunTemplate, signed_record
from dualdb.records import BackendInfo


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
    schema_source: str | None = None  # "reused <where>" or "built <where>": the run's schema, kept across runs

    def __repr__(self) -> str:
        return f"<Backend {self.name} {self.version}>"

    def describe(self) -> BackendInfo:
        return BackendInfo(self.version, self.url, collation=self.collation, schema=self.schema_source)


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
        self.early_server = None  # engines.server.early.EarlyServer: our server, started while pytest collects
        self._pg_admin: Engine | None = None
        self._pg_base_url: URL | None = None
        self._pg_info: postgres.ServerInfo | None = None
        self._pg_databases: list[str] = []
        self._pg_template: str | None = None
        self._fresh_counter = itertools.count(1)
        self._ledger = None
        self._template_schema: SchemaState | None = None  # the run's template, when this process built it
        self._migrations = None
        self._source_fp: str | None = None
        self._sqlite_entry: tuple[Path, str] | None = None  # (cache folder, fingerprint) of the run's SQLite schema file
        self._sqlite_tables = 0  # how many tables that file has
        self._schema_template: RunTemplate | None = None  # the kept template database (dualdb_tpl_<fp>) this run clones
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
        run = self.migrations.upgrade(engine, name, record=main)
        state.seen_tables = sum(len(m.tables) for m in self.metadatas)
        return run

    @property
    def migrations(self):  # noqa: ANN201 - migrations.Migrations
        if self._migrations is None:
            from dualdb.engines.migrations import Migrations

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
        source = self._sqlite_schema(path)
        engine = sqlite.make_engine(
            path,
            self.settings.sqlite_pragmas,
            busy_timeout_ms=self.settings.lock_timeout_ms,
            recording=self.settings.dual,
        )
        backend = Backend(name="sqlite", engine=engine, url=f"sqlite:///{path}", version=sqlite.version())
        self._adopt(backend, *source)
        self._sqlite_tables = backend.schema.seen_tables
        return backend

    def source_fingerprint(self) -> str:
        """The fingerprint of the project's schema declaration (models' DDL or migration scripts), once per run."""
        if self._source_fp is None:
            from dualdb.engines.schema_cache import source_fingerprint

            self._source_fp = source_fingerprint(self.settings, self.metadatas)
        return self._source_fp

    def _sqlite_schema(self, path: Path) -> tuple[dict, str]:
        """Put the schema in the run's SQLite file: a copy of the cached one, or built once and cached.

        Returns the build's record (tables created/failed, the Alembic run) and where it came from.
        """
        from dualdb.engines import schema_cache
        from dualdb.engines.server.files import default_cache_dir

        cache = default_cache_dir()
        fingerprint = schema_cache.sqlite_fingerprint(self.source_fingerprint())
        self._sqlite_entry = (cache, fingerprint)
        if not self.settings.rebuild:
            record = schema_cache.load_sqlite(cache, fingerprint, path)
            if record is not None:
                return record, f"reused {schema_cache.sqlite_entry(cache, fingerprint)}"
        built = self.tmpdir / "schema-build.db"
        engine = sqlite.make_engine(built, self.settings.sqlite_pragmas, recording=False)
        try:
            record = self._build_record(engine, "sqlite")
        finally:
            engine.dispose()
        built.touch()  # no tables, no write: SQLite never created the file (an empty one is an empty database)
        try:
            schema_cache.publish_sqlite(cache, fingerprint, built, record)
        except OSError as exc:  # only costs the next run a build
            self.warnings.append(f"could not cache the SQLite schema in {cache} ({exc}); every run builds it")
        shutil.move(built, path)
        return record, "built"

    def _build_record(self, engine: Engine, name: str) -> dict:
        """Build the schema on ``engine`` (an empty database) and return what the build recorded."""
        from dualdb.engines.schema_cache import encode_state

        if self.settings.alembic_config:
            run = self.migrations.upgrade(engine, name, record=True)
            state = SchemaState(seen_tables=sum(len(m.tables) for m in self.metadatas))
            return encode_state(state, run)
        return encode_state(create_tables(engine, self.metadatas, SchemaState()), None)

    def _adopt(self, backend: Backend, record: dict, source: str) -> None:
        """Give ``backend`` the state of the schema it was cloned from: no re-check, and for Alembic the
        migration run (its findings and the notes failing tests get)."""
        from dualdb.engines.schema_cache import decode_state

        schema, run = decode_state(record)
        if schema is not None:
            backend.schema = schema
        if run is not None:
            backend.migration = run
            self.migrations.runs[backend.name] = run
            self.migrations._findings = None
        backend.schema_source = source

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
        """Our own server: the one started early (``early_server``) when it fits the schema key, else now."""
        from dualdb.engines.server.early import start_local

        key = None if self.settings.rebuild else self._cluster_key()
        server, reaped = self.early_server.take(key) if self.early_server is not None else (None, [])
        if server is None:
            server, more = start_local(self.settings.pg_binaries, self.settings.pg_timezone, key)
            reaped = [*reaped, *more]
        for line in reaped:
            self.warnings.append(f"reaped leftover from a killed run: {line}")
        self._server = server
        return server.url

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
        from dualdb.engines.leftovers import DatabaseLedger, reap_databases, server_key

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

    # -- the schema template: built once, kept across runs, cloned per run / xdist worker ----------

    def _cluster_key(self) -> str:
        """Names the kept cluster of our own server: the schema declaration and the session timezone
        (the install and its locale are the cluster folder's own key)."""
        return self.source_fingerprint()

    def _template(self) -> RunTemplate:
        """The run's schema template on this server (``templates.RunTemplate``); its name's fingerprint covers
        the schema declaration, the server version, the collation and the role."""
        if self._schema_template is None:
            from dualdb.engines.schema_cache import postgres_fingerprint

            admin = self._admin()
            collation, _ = postgres.choose_collation(self._pg_info, self.settings.pg_collation)
            url = self._pg_server_url()
            fingerprint = postgres_fingerprint(self.source_fingerprint(), self._pg_info.version, collation, url.username)
            self._schema_template = RunTemplate(admin, url, collation, fingerprint, self._ledger)
        return self._schema_template

    def _run_template(self) -> str:
        """The schema template this run clones, ready and proven unchanged; built here when it is not."""
        return self._template().ensure(lambda engine: self._build_record(engine, "postgresql"),
                                       rebuild=self.settings.rebuild)

    def _track_created(self, name: str) -> None:
        self._pg_databases.append(name)
        if self._server is not None:
            from dualdb.engines.server.ledger import record_database

            record_database(self._server, name)
        elif self._ledger is not None:
            self._ledger.add(name)

    def drop_run_template(self) -> None:
        """xdist controller: nothing to drop any more -- the schema template is kept for the next run
        (on our own server, in the kept cluster; see ``close``)."""

    def _provision_postgres(self) -> Backend:
        template = self._run_template()
        with self._template().locked():  # never clone while another run rebuilds it
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
        built = self._template().built
        where = "built" if built else "reused"
        if self._server is not None and self._server.snapshot is not None and not built:
            where = f"reused (cluster {self._server.snapshot})"
        self._adopt(backend, self._template().record, f"{where} {template}")
        self._template_schema = dataclasses.replace(backend.schema, created=set(backend.schema.created),
                                                    failed=dict(backend.schema.failed))
        return backend

    # -- fresh databases for db_fresh_engine ---------------------------------------

    def fresh_engine(self, name: str) -> tuple[Engine, Callable[[], None]]:
        """A plain engine on a brand-new database with the schema, and its cleanup."""
        backend = self.get(name)
        if name == "sqlite":
            path = self.tmpdir / f"fresh-{next(self._fresh_counter)}.db"
            copied = self._copy_sqlite_schema(backend, path)
            engine = sqlite.make_engine(path, self.settings.sqlite_pragmas, isolated=False)
            if not copied:
                self.build_schema(engine, name, SchemaState())

            def cleanup() -> None:
                engine.dispose()
                path.unlink(missing_ok=True)

            return engine, cleanup
        built = self._template_schema
        if self.settings.alembic_config or (built is not None and backend.schema.seen_tables == built.seen_tables):
            template = self._run_template()  # the template still has the whole schema
        else:
            template = self._fresh_template(backend)
        db_name, _, _ = self._create_pg_database(template=template)
        engine = postgres.make_engine(self._pg_server_url().set(database=db_name), timezone=self.settings.pg_timezone)

        def cleanup() -> None:
            engine.dispose()
            self._drop(db_name)

        return engine, cleanup

    def _copy_sqlite_schema(self, backend: Backend, path: Path) -> bool:
        """Copy the cached SQLite schema file to ``path`` when it still has the whole schema (no tables
        registered since); False when it is gone (a concurrent run pruned it) or the schema grew: build then.
        A copy costs about a millisecond, ``create_all`` tens (one table) to thousands (120 tables)."""
        if self._sqlite_entry is None:
            return False
        if not self.settings.alembic_config and backend.schema.seen_tables != self._sqlite_tables:
            return False
        cache, fingerprint = self._sqlite_entry
        from dualdb.engines import schema_cache

        if schema_cache.load_sqlite(cache, fingerprint, path) is not None:
            return True
        path.unlink(missing_ok=True)
        return False

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
            from dualdb.engines.server.ledger import forget_database

            forget_database(self._server, name)
        elif self._ledger is not None:
            self._ledger.remove(name)

    # -- teardown --------------------------------------------------------------------

    def close(self) -> list[str]:
        """Dispose engines, drop the databases we created, stop our server; return problems."""
        problems: list[str] = []
        for backend in self._backends.values():
            backend.engine.dispose()
        if self._server is not None or self.settings.shared_server:
            self._pg_databases.clear()  # a private server of this run: its cluster is deleted with it
        for name in list(self._pg_databases):
            try:
                self._drop(name)
            except Exception as exc:  # keep tearing down the rest
                problems.append(f"could not drop {name}: {exc}")
        try:
            keep = self._keepable_template()
        except Exception as exc:  # keeping is an optimisation: the next run builds the schema again
            problems.append(f"could not keep the schema template for the next run: {exc}")
            keep = None
        if self._schema_template is not None:
            self._schema_template.release()
        if self._pg_admin is not None:
            self._pg_admin.dispose()
        if self._ledger is not None and not self._pg_databases:
            self._ledger.close()
        if self._server is not None:
            try:
                self._stop_server(keep)
            except Exception as exc:
                problems.append(f"could not stop the local PostgreSQL: {exc}")
        if self.early_server is not None:
            self.early_server.discard()  # not taken: the run needed no PostgreSQL
            self.early_server.release()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        self._backends.clear()
        return problems

    def _keepable_template(self) -> str | None:
        """Our own server, a signed template of this fingerprint in it, and not copied from a kept cluster
        (or forced to rebuild): then the cluster is worth keeping. Drops every other database first
        (the private cluster holds nothing but this run's)."""
        if self._server is None or self._pg_admin is None or self._pg_info is None:
            return None
        if self._server.snapshot is not None and not self._template().built:
            return None  # already kept, unchanged
        name = self._template().name
        with self._pg_admin.connect() as conn:
            if signed_record(conn, name) is None:
                return None
            others = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'dualdb\\_%' AND datname <> :n"),
                {"n": name},
            ).scalars().all()
        for other in others:
            postgres.drop_database(self._pg_admin, other)
        return name

    def _stop_server(self, keep: str | None) -> None:
        """Stop our server; when it holds a template worth keeping, keep its cluster for later runs."""
        if keep is None:
            self._server.stop()
            return
        self._server.stop_and_keep(self._cluster_key())
