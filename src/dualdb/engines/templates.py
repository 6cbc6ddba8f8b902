"""The PostgreSQL schema template of a run: ``dualdb_tpl_<fp>``, built once, signed, kept, cloned.

A run's databases (each xdist worker's, each ``db_fresh_engine``'s) are
clones of one template holding the built schema. It is kept after the run
and reused while its fingerprint (``schema_cache``) is unchanged:

* An advisory lock keyed by the template's name serialises builders and
  cloners (the workers of one run, and other runs on a shared server): the
  first builds the template, the others find it.
* A template counts as ready only when its ``COMMENT ON DATABASE`` proves it
  is the finished build of its fingerprint (``schema_cache.read_comment``);
  one without that proof, under the plugin's own name, is a build that was
  interrupted and is dropped and built again.
* On a user's server the build is in the run's ledger until signed, so a run
  killed mid-build leaves nothing a later run would trust, and the next run
  reaps it; once signed it leaves the ledger and is kept.
* Every run holds a shared "in use" lock on its template for as long as it
  runs. After building a new one, a run drops the older signed templates of
  its role beyond the newest ``KEEP`` -- only signed ones, only its role's,
  and never one another live run holds (so a user's server does not collect
  a template per schema change forever).
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

from dualdb.engines import postgres
from dualdb.engines.schema_cache import KEEP, TEMPLATE_PREFIX, read_comment, template_comment, template_name

_IN_USE_CLASS = 0x64756164  # the first key of the two-key "in use" locks (a key space of its own)

_SIGNED_OF_ROLE = text(
    "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
    "WHERE datname LIKE :prefix AND datname <> :n AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
    "ORDER BY oid DESC"
)


def build_lock_key(name: str) -> int:
    """The ``pg_advisory_lock(bigint)`` key a build or a clone of template ``name`` holds."""
    return zlib.crc32(name.encode())


def in_use_key(name: str) -> tuple[int, int]:
    """The ``pg_advisory_lock_shared(int, int)`` keys a run holds on the template it clones."""
    key = zlib.crc32(name.encode())
    return _IN_USE_CLASS, key - (1 << 32) if key >= 1 << 31 else key


def signed_record(conn: Connection, name: str) -> dict | None:
    """The build record of template ``name`` if it exists and its comment proves it finished."""
    comment = conn.execute(
        text("SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = :n"),
        {"n": name},
    ).scalar()
    if comment is None:
        return None
    return read_comment(comment, name.removeprefix(TEMPLATE_PREFIX))


class RunTemplate:
    """The schema template this run clones on one server, and the locks that guard it.

    ``build_record(engine)`` builds the schema on an empty database and returns
    what the build recorded; ``ledger`` (a user's server) tracks the template
    while it is unsigned.
    """

    def __init__(self, admin: Engine, server_url: URL, collation: str, fingerprint: str, ledger=None):  # noqa: ANN001
        self.admin = admin
        self.server_url = server_url
        self.collation = collation
        self.name = template_name(fingerprint)
        self.ledger = ledger
        self.built = False  # this process built it (rather than finding it ready)
        self.record: dict | None = None  # what the build recorded (schema_cache.encode_state)
        self._hold: Connection | None = None

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        """``pg_advisory_lock`` keyed by the template name, held on one admin connection."""
        key = build_lock_key(self.name)
        with self.admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield conn
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    def ensure(self, build_record: Callable[[Engine], dict], *, rebuild: bool = False) -> str:
        """The template, ready and proven unchanged (built here when it is not); held in use until ``release``."""
        if self.record is not None:
            return self.name
        with self.locked() as conn:
            self._hold_in_use()
            record = None if rebuild else signed_record(conn, self.name)
            if record is None:
                record = self._build(conn, build_record)
                self.built = True
            self.record = record
        if self.built:
            prune_templates(self.admin, self.name)
        return self.name

    def release(self) -> None:
        """End this run's claim on the template (closing the connection that holds the lock)."""
        if self._hold is not None:
            self._hold.close()
            self._hold = None

    def _hold_in_use(self) -> None:
        if self._hold is None:
            self._hold = self.admin.connect()
            first, second = in_use_key(self.name)
            self._hold.execute(text("SELECT pg_advisory_lock_shared(:a, :b)"), {"a": first, "b": second})

    def _build(self, conn: Connection, build_record: Callable[[Engine], dict]) -> dict:
        """(Re)build the template and sign it with its comment only once the build finished."""
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.name}).scalar()
        if exists:  # our own name: an unsigned (interrupted) or a stale build being forced (--dualdb-rebuild)
            postgres.drop_database(self.admin, self.name)
        postgres.create_database(self.admin, self.name, self.collation)
        if self.ledger is not None:
            self.ledger.add(self.name)
        engine = postgres.make_engine(self.server_url.set(database=self.name))
        try:
            record = build_record(engine)
        finally:
            engine.dispose()  # a template must have no connections left
        signature = template_comment(self.name.removeprefix(TEMPLATE_PREFIX), record)
        conn.execute(text(f'COMMENT ON DATABASE "{self.name}" IS ' + "'" + signature + "'"))
        if self.ledger is not None:
            self.ledger.remove(self.name)
        return record


def prune_templates(admin: Engine, current: str, keep: int = KEEP) -> list[str]:
    """Drop this role's signed templates beyond the newest ``keep`` (``current`` among them); return their names.

    Never an unsigned one (a build in progress, or one a reaper owns), never
    another role's, never a database without the plugin's name, and never one
    a live run holds in use: its "in use" lock is tried, not waited for.
    """
    with admin.connect() as conn:
        rows = conn.execute(_SIGNED_OF_ROLE, {"prefix": TEMPLATE_PREFIX.replace("_", "\\_") + "%", "n": current}).all()
        signed = [name for name, comment in rows if read_comment(comment, name.removeprefix(TEMPLATE_PREFIX)) is not None]
        dropped = []
        for name in signed[max(keep - 1, 0):]:
            first, second = in_use_key(name)
            if not conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": first, "b": second}).scalar():
                continue  # a live run clones it
            try:
                postgres.drop_database(admin, name)
                dropped.append(name)
            except DBAPIError:  # housekeeping: another run may be dropping it too
                pass
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": first, "b": second})
    return dropped
