"""Resolve ``dualdb_metadata`` and create its tables on a backend, one table at a time.

Tables are created individually so that one table a backend cannot hold (an
``ARRAY`` column on SQLite) does not take the whole run down: it is recorded as
a schema failure and only the tests that touch it fail, on that leg only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Engine

from dualdb.config import load_object
from dualdb.errors import MetadataError


def resolve_metadata(specs: tuple[str, ...]) -> list[MetaData]:
    """Import each ``module:attribute`` and return the distinct MetaData objects.

    Accepts a ``MetaData``, a declarative base (or any subclass of one), or
    anything else exposing ``.metadata``; the same MetaData named twice is used once.
    """
    found: list[MetaData] = []
    for spec in specs:
        metadata = _load_one(spec)
        if not any(m is metadata for m in found):
            found.append(metadata)
    return found


def _load_one(spec: str) -> MetaData:
    obj = load_object(spec, "dualdb_metadata", MetadataError)
    if isinstance(obj, MetaData):
        return obj
    metadata = getattr(obj, "metadata", None)
    if isinstance(metadata, MetaData):
        return metadata
    raise MetadataError(
        f"dualdb_metadata: {spec!r} is a {type(obj).__name__}, not a MetaData or a declarative "
        "base; name a `MetaData()` or a class with `.metadata`"
    )


@dataclass
class SchemaState:
    """Which tables exist on one backend, and why the others could not be created."""

    created: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    seen_tables: int = 0


def create_tables(engine: Engine, metadatas: list[MetaData], state: SchemaState) -> SchemaState:
    """Create every not-yet-handled table of ``metadatas`` on ``engine``.

    Called again when more tables were registered later (models defined in a
    test module), it only handles the new ones.
    """
    tables = [t for m in metadatas for t in m.sorted_tables]
    state.seen_tables = _table_count(metadatas)
    for table in tables:
        if table.fullname in state.created or table.fullname in state.failed:
            continue
        error = _create_one(engine, table)
        if error is None:
            state.created.add(table.fullname)
        else:
            state.failed[table.fullname] = error
    return state


def _table_count(metadatas: list[MetaData]) -> int:
    return sum(len(m.tables) for m in metadatas)


def needs_refresh(metadatas: list[MetaData], state: SchemaState) -> bool:
    """True when tables were added to the MetaData since the last ``create_tables``."""
    return _table_count(metadatas) != state.seen_tables


def _create_one(engine: Engine, table: Table) -> str | None:
    """Create one table and its indexes in its own transaction; return the error text."""
    try:
        with engine.begin() as conn:
            # Table.create also creates what the table needs first (PostgreSQL enum
            # types, standalone sequences) and its indexes; checkfirst skips existing ones
            table.create(conn, checkfirst=True)
    except Exception as exc:  # any DDL error is reported, not raised
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {message}"
    return None
