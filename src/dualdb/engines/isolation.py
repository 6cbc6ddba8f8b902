"""Transaction-per-test: an outer transaction rolled back after the test, savepoints inside.

The model
---------
Each test gets one connection with an outer transaction. Every ORM session
of the test (``db_session``, sessions from ``dualdb_sessionmaker``, a
``Session(bind=db_connection)`` the application makes itself) joins it with
``join_transaction_mode="create_savepoint"``: its transaction is a SAVEPOINT,
its ``commit()`` a ``RELEASE``, its ``rollback()`` a ``ROLLBACK TO``. The
outer transaction is rolled back at the end, so nothing survives the test.

Several sessions on one connection
----------------------------------
Savepoints nest; sessions don't. When session A opened its savepoint first
and session B commits inside it, a plain ``ROLLBACK TO`` A's savepoint (A
closing or rolling back) would throw away B's *committed* rows — a failure
that exists only in the harness. So the savepoints are tracked per session:

* a ``rollback()``/``close()`` of a session undoes exactly its own uncommitted
  work when no other session committed inside its savepoint;
* when another session did commit inside it and the rolling-back session has
  not written anything itself, its savepoint is released instead — same
  result as a real database, nothing of its own to undo;
* when both happened (A wrote, then B committed, then A rolls back), SQL
  cannot undo A's writes without B's. The harness keeps both and records a
  harness note on the test: this is the one place the model differs from
  separate real transactions.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from dualdb.engines.provision import Backend
from dualdb.engines import sequences
from dualdb.harness_notes import KEPT_OWN_WRITES_NOTE, LOST_FOREIGN_WORK_NOTE

TRACKER_KEY = "dualdb_savepoints"
DML_VERBS = ("INSERT", "UPDATE", "DELETE", "MERGE", "WITH")


@dataclass
class _Frame:
    name: str
    owner: int | None = None
    wrote: bool = False
    foreign_commit: bool = False


@dataclass
class SavepointTracker:
    """Which session owns which savepoint, and what happened inside each."""

    frames: list[_Frame] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    any_write: bool = False

    def pushed(self, name: str) -> None:
        self.frames.append(_Frame(name))

    def claim_top(self, owner: int) -> None:
        if self.frames and self.frames[-1].owner is None:
            self.frames[-1].owner = owner

    def wrote(self) -> None:
        self.any_write = True
        if self.frames:
            self.frames[-1].wrote = True

    def _index(self, name: str) -> int | None:
        for i in range(len(self.frames) - 1, -1, -1):
            if self.frames[i].name == name:
                return i
        return None

    def released(self, name: str) -> None:
        """A commit: the released frames' work now belongs to the frame below."""
        index = self._index(name)
        if index is None:
            return
        popped, self.frames = self.frames[index:], self.frames[:index]
        if not self.frames:
            return
        parent = self.frames[-1]
        for frame in popped:
            if frame.owner == parent.owner:
                parent.wrote |= frame.wrote
                parent.foreign_commit |= frame.foreign_commit
            elif frame.wrote or frame.foreign_commit:
                parent.foreign_commit = True

    def on_rollback_to(self, name: str, failed: bool) -> str:
        """Decide a ``ROLLBACK TO name``: ``"rollback"``, ``"release"`` or ``"noop"``.

        ``failed`` means the database refuses further statements until the
        rollback (PostgreSQL after an error), so only a real rollback will do.
        """
        index = self._index(name)
        if index is None or failed:
            if index is not None:
                self._lost_foreign_work(self.frames[index])
                self.frames = self.frames[:index]
            return "rollback"
        frame = self.frames[index]
        open_foreign = [f for f in self.frames[index + 1 :] if f.owner != frame.owner]
        if open_foreign:
            # another session's savepoint is still open inside this one: leave both in place
            self.frames.pop(index)
            self._kept_own_writes(frame)
            return "noop"
        if frame.foreign_commit:
            self._kept_own_writes(frame)
            self.released(name)
            return "release"
        self.frames = self.frames[:index]
        return "rollback"

    def _kept_own_writes(self, frame: _Frame) -> None:
        if frame.wrote:
            self.note(KEPT_OWN_WRITES_NOTE)

    def _lost_foreign_work(self, frame: _Frame) -> None:
        if frame.foreign_commit:
            self.note(LOST_FOREIGN_WORK_NOTE)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def install_savepoint_tracking(engine: Engine) -> None:
    """Route the engine's savepoint operations through the per-connection tracker."""
    dialect = engine.dialect
    do_savepoint, do_release, do_rollback_to = (
        dialect.do_savepoint,
        dialect.do_release_savepoint,
        dialect.do_rollback_to_savepoint,
    )

    def savepoint(connection: Connection, name: str) -> None:
        do_savepoint(connection, name)
        tracker = connection.info.get(TRACKER_KEY)
        if tracker is not None:
            tracker.pushed(name)

    def release(connection: Connection, name: str) -> None:
        do_release(connection, name)
        tracker = connection.info.get(TRACKER_KEY)
        if tracker is not None:
            tracker.released(name)

    def rollback_to(connection: Connection, name: str) -> None:
        tracker = connection.info.get(TRACKER_KEY)
        action = "rollback" if tracker is None else tracker.on_rollback_to(name, _in_error(connection))
        if action == "rollback":
            do_rollback_to(connection, name)
        elif action == "release":
            do_release(connection, name)

    dialect.do_savepoint = savepoint
    dialect.do_release_savepoint = release
    dialect.do_rollback_to_savepoint = rollback_to

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        tracker = conn.info.get(TRACKER_KEY)
        if tracker is not None and statement.lstrip()[:6].upper().startswith(DML_VERBS):
            tracker.wrote()


def _in_error(connection: Connection) -> bool:
    """True when PostgreSQL has aborted the transaction (only a rollback is accepted)."""
    dbapi = connection.connection.dbapi_connection
    info = getattr(dbapi, "info", None)
    status = getattr(info, "transaction_status", None)
    return status is not None and status.name == "INERROR"


@event.listens_for(Session, "after_begin")
def _claim_savepoint(session: Session, transaction, connection: Connection) -> None:  # noqa: ANN001
    tracker = connection.info.get(TRACKER_KEY)
    if tracker is not None:
        tracker.claim_top(_session_key(session))


_session_ids: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_next_id = iter(range(1, 1 << 62))


def _session_key(session: Session) -> int:
    key = _session_ids.get(session)
    if key is None:
        key = _session_ids[session] = next(_next_id)
    return key


@contextmanager
def rolled_back_connection(backend: Backend) -> Iterator[tuple[Connection, SavepointTracker]]:
    """A pooled connection inside an outer transaction that is always rolled back.

    PostgreSQL sequences ignore ROLLBACK, so after a test that wrote they are
    put back to their start values: every test starts with the sequences as
    SQLite's rolled-back rowids are, and ids match on the two legs.
    """
    conn = backend.engine.connect()
    tracker = SavepointTracker()
    try:
        conn.info[TRACKER_KEY] = tracker
        outer = conn.begin()
        try:
            yield conn, tracker
        finally:
            conn.info.pop(TRACKER_KEY, None)
            if backend.name == "postgresql" and tracker.any_write:
                reset_sequences_before_rollback(conn, backend)
            if outer.is_active:
                outer.rollback()
            elif conn.in_transaction():
                conn.rollback()
    finally:
        conn.info.pop(TRACKER_KEY, None)
        conn.close()


def reset_sequences_before_rollback(conn: Connection, backend: Backend) -> None:
    """Put sequences back for the next test (``setval`` survives the rollback that follows).

    Done only after a test that wrote, and inside its transaction to save a
    round trip; an aborted transaction is rolled back first.
    """
    if _in_error(conn):
        conn.rollback()
        backend.sequence_reset = sequences.reset(conn, backend.sequence_reset)
        conn.commit()
        conn.begin()
    else:
        backend.sequence_reset = sequences.reset(conn, backend.sequence_reset)


def savepoint_session(connection: Connection, **kwargs) -> Session:
    """An ORM session whose commits are savepoint releases inside the test's transaction."""
    kwargs.setdefault("join_transaction_mode", "create_savepoint")
    return Session(bind=connection, **kwargs)


class TestSessionmaker(sessionmaker):
    """A ``sessionmaker`` on the test's connection that closes what it made at the end."""

    __test__ = False  # not a pytest test class

    def __init__(self, connection: Connection, **kwargs):
        kwargs.setdefault("join_transaction_mode", "create_savepoint")
        super().__init__(bind=connection, **kwargs)
        self._made: weakref.WeakSet = weakref.WeakSet()

    def __call__(self, **local_kw) -> Session:
        session = super().__call__(**local_kw)
        self._made.add(session)
        return session

    def close_all(self) -> None:
        for session in list(self._made):
            session.close()
