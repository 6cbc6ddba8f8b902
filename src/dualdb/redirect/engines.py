"""The hook: SQLAlchemy's ``create_engine``, wrapped in each worker of a redirect run.

Every way a suite gets an engine ends in ``sqlalchemy.engine.create.create_engine``:
``create_async_engine`` calls it (as ``_create_engine`` in
``sqlalchemy.ext.asyncio.engine``), ``engine_from_config`` calls it by its module
global, Flask-SQLAlchemy calls ``engine_from_config``. So the wrapper replaces
that function where SQLAlchemy exports it, and every reference an
already-imported module took with ``from sqlalchemy import create_engine``. It is
installed in ``pytest_load_initial_conftests``, before any conftest is imported,
so module-level engines of application code imported by a conftest are caught
as well as engines built in fixtures or tests; environment variables and
``.env`` files play no part, so a suite that overrides them is redirected too.

The wrapper leaves alone the plugin's own engines and every engine whose URL is
not SQLite. For a SQLite URL:

* SQLite worker: the engine is created exactly as asked (its connections are a
  ``sqlite3.Connection`` subclass that records fetched rows);
* PostgreSQL worker: the same call on a PostgreSQL namespace chosen by
  ``namespaces`` (same file -> same database; each ``:memory:`` -> a new
  schema), SQLite-only arguments dropped with a note each (``arguments``).

Both get the statement capture (``capture``); the legs pick it up.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from dualdb.redirect import arguments
from dualdb.redirect.capture import PragmaSkippingAsyncCursor, PragmaSkippingCursor, WriteTracker, capture_for

ACTIVE: EngineHook | None = None  # the hook of this process, once installed


class EngineHook:
    """One worker's engine hook: what it redirects to, the captures it installed, its notes."""

    def __init__(self, leg: str, namespaces: Any = None, timezone: str = "UTC"):
        self.leg = leg
        self.namespaces = namespaces  # namespaces.Namespaces in the PostgreSQL worker
        self.timezone = timezone
        self.captures: list = []  # shared with the run state: every leg starts them all
        self.active_leg = None  # the leg running now: an engine created mid-test joins it
        self.notes: dict[str, str] = {}  # key -> note: one note per kind of change
        self.tracker = WriteTracker() if leg == "postgresql" else None
        self.original = None
        self._rebound: list[tuple[Any, str]] = []
        self.redirected = 0

    # -- installing ------------------------------------------------------------------

    def install(self) -> None:
        """Replace ``create_engine`` in SQLAlchemy and in every module that imported it already."""
        import sqlalchemy.engine.create as create_module

        self.original = original = create_module.create_engine
        hook = self

        @functools.wraps(original)
        def create_engine(url: Any, **kw: Any) -> Any:
            return hook.create_engine(url, **kw)

        self.wrapper = create_engine
        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "") or ""
            if name.startswith("dualdb.") and not name.startswith("dualdb.redirect"):
                continue  # the plugin's own engines are its own
            try:
                items = list(vars(module).items())
            except TypeError:
                continue
            for attr, value in items:
                if value is original:
                    setattr(module, attr, create_engine)
                    self._rebound.append((module, attr))

    def uninstall(self) -> None:
        for module, attr in self._rebound:
            if getattr(module, attr, None) is self.wrapper:
                setattr(module, attr, self.original)
        self._rebound.clear()

    # -- the wrapper ---------------------------------------------------------------

    def create_engine(self, url: Any, **kw: Any) -> Any:
        """``create_engine(url, **kw)`` as this worker's leg wants it."""
        from sqlalchemy.engine import make_url

        if _called_by_plugin():
            return self.original(url, **kw)
        try:
            parsed = make_url(url)
        except Exception:
            return self.original(url, **kw)  # let SQLAlchemy say what is wrong with it
        if parsed.get_backend_name() != "sqlite":
            return self.original(url, **kw)
        if self.leg == "postgresql":
            engine = self._redirected(parsed, kw)
        else:
            engine = self.original(url, **arguments.with_recording_connection(kw))
        self._capture(engine)
        return engine

    def _redirected(self, url: Any, kw: dict[str, Any]) -> Any:
        """The suite's engine call, made on the PostgreSQL namespace its SQLite URL stands for."""
        is_async = url.get_driver_name() == "aiosqlite"
        place = self.namespaces.place(url)
        options, notes = arguments.for_postgresql(kw)
        origin = _caller()
        for key, note in notes:
            self.notes.setdefault(key, f"redirect: {note} (first at {origin})")
        pg_options = f"-c TimeZone={self.timezone}"
        if place.schema:
            pg_options += f" -c search_path={place.schema}"
        connect_args = {
            "options": pg_options,
            "cursor_factory": PragmaSkippingAsyncCursor if is_async else PragmaSkippingCursor,
        }
        target = place.url.set(drivername="postgresql+psycopg_async" if is_async else "postgresql+psycopg")
        self.redirected += 1
        return self.original(target, connect_args=connect_args, **options)

    def _capture(self, engine: Any) -> None:
        from dualdb.engines.instrument import instrument

        # the suite's own engine and isolation: only the capture, redirect mode's kind
        capture = instrument(engine, capture=lambda e: capture_for(e, self.tracker), savepoints=False, notes=False)
        self.captures.append(capture)
        if self.active_leg is not None:
            capture.start(self.active_leg)

    def pending_notes(self) -> list[str]:
        """Every note so far: each dropped argument, each skipped PRAGMA, once."""
        from dualdb.redirect.capture import SKIPPED

        notes = list(self.notes.values())
        notes.extend(f"redirect: skipped {sql!r} on PostgreSQL (a SQLite PRAGMA the application runs; "
                     "PostgreSQL has no PRAGMA: foreign keys are always enforced there)" for sql in SKIPPED)
        return notes


def _called_by_plugin() -> bool:
    """Whether the engine is the plugin's own (its backends, its async twins): never redirected."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "") or ""
        if name.startswith("sqlalchemy.") or name == "sqlalchemy" or name == __name__:
            frame = frame.f_back
            continue
        return name.startswith("dualdb.") and not name.startswith("dualdb.redirect")
    return False


def _caller() -> str:
    """``path:line`` of the suite's code that asked for the engine, for the notes."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "") or ""
        if not (name.startswith(("sqlalchemy", "dualdb.redirect", "flask_sqlalchemy")) or name == __name__):
            path = frame.f_code.co_filename
            try:
                path = os.path.relpath(path)
            except ValueError:
                pass
            return f"{path}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def install(leg: str, namespaces: Any = None, timezone: str = "UTC") -> EngineHook:
    """Install this process's hook (once)."""
    global ACTIVE
    if ACTIVE is None:
        ACTIVE = EngineHook(leg, namespaces, timezone)
        ACTIVE.install()
    return ACTIVE


def uninstall() -> list[str]:
    """Put SQLAlchemy back and drop what the PostgreSQL leg created; return problems."""
    global ACTIVE
    hook, ACTIVE = ACTIVE, None
    if hook is None:
        return []
    hook.uninstall()
    return hook.namespaces.close() if hook.namespaces is not None else []
