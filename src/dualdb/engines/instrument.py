"""What the plugin installs on an engine, decided in one place.

Every engine a test's statements can run on goes through ``instrument``:

==========================  ==========================  ===========  ===========
engine                      capture                     savepoints   error notes
==========================  ==========================  ===========  ===========
main (``RunState.backend``) in a ``--dual-db`` run       yes          yes
async (``attach_engine``)   yes (on ``sync_engine``)     yes          yes
``db_fresh_engine``         during a leg                 no           no
redirect mode's             its own (``capture_for``)    no           no
==========================  ==========================  ===========  ===========

* capture: ``capture.events.StatementCapture`` (``AsyncStatementCapture`` on an
  async engine's ``sync_engine``), or the caller's factory;
* savepoints: ``isolation.install_savepoint_tracking`` (the per-session
  savepoint model of a rolled-back test);
* error notes: a database error names the Alembic revision that failed on this
  backend (``migrations.failure_note``), the table that could not be created
  there, or the lock a timed-out statement probably waited for (``LOCK_HINT``).

Something every engine should get is added here, once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Union

from dualdb.capture.events import AsyncStatementCapture, StatementCapture
from dualdb.errors import add_note
from dualdb.harness_notes import LOCK_HINT

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from dualdb.engines.provision import Backend

CaptureChoice = Union[bool, Callable[["Engine"], StatementCapture]]


def instrument(
    engine: Any,
    backend: Backend | None = None,
    *,
    capture: CaptureChoice = True,
    savepoints: bool = True,
    notes: bool = True,
) -> StatementCapture | None:
    """Install on ``engine`` (an ``Engine``, or an ``AsyncEngine``: its ``sync_engine``) what the
    plugin watches it with; returns its statement capture, ``None`` without one.

    ``capture``: ``True`` for the plugin's own, a callable ``engine -> capture`` for another
    kind, ``False`` for none. ``notes`` needs ``backend``, the backend the engine's database
    belongs to (its schema and migration run are read when an error happens).
    """
    engine = getattr(engine, "sync_engine", engine)
    found = None
    if capture is True:
        found = AsyncStatementCapture(engine) if getattr(engine.dialect, "is_async", False) else StatementCapture(engine)
    elif capture:
        found = capture(engine)
    if savepoints:
        from dualdb.engines.isolation import install_savepoint_tracking

        install_savepoint_tracking(engine)
    if notes:
        if backend is None:
            raise ValueError("error notes name the backend's schema: pass the engine's backend")
        from dualdb.engines.migrations import install_failure_notes

        install_failure_notes(engine, backend)
        _install_error_notes(engine, backend)
    return found


def _install_error_notes(engine: Engine, backend: Backend) -> None:
    """Add one-line hints to errors whose cause is the harness, not the application.

    A table that failed to create on this backend is named; a lock wait that
    timed out says which transaction probably holds the lock.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "handle_error")
    def _add_notes(context) -> None:  # noqa: ANN001
        exc = context.sqlalchemy_exception
        if exc is None:
            return
        message = str(context.original_exception)
        note = _missing_table_note(backend, message)
        if note is None and ("lock timeout" in message or "database is locked" in message):
            note = LOCK_HINT
        if note is not None and note not in getattr(exc, "__notes__", ()):
            add_note(exc, note)


def _missing_table_note(backend: Backend, message: str) -> str | None:
    for table, error in backend.schema.failed.items():
        name = table.split(".")[-1]
        if re.search(rf"\b{re.escape(name)}\b", message):
            return f"dualdb: table {table!r} could not be created on {backend.name}: {error}"
    return None
