"""Values crossing into and out of each engine's call.

``fresh_copy`` gives each engine its own copy of a call's arguments (one mapped
instance cannot be added to two sessions, and ``fn`` mutating its arguments on
SQLite must not change what PostgreSQL receives); ``refresh_expired`` loads what
a ``commit()`` expired on the ORM objects a call returned, so they normalise to
their data.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session


def fresh_copy(value: Any, _depth: int = 0) -> Any:
    """A per-engine copy of a call's arguments.

    Mapped instances that belong to no session are rebuilt column by column
    (one instance can't be added to two sessions); containers are copied;
    other values are deep-copied when possible, so ``fn`` mutating its
    arguments on SQLite cannot change what PostgreSQL receives.
    """
    if _depth > 8:
        return value
    state = getattr(value, "_sa_instance_state", None)
    if state is not None and hasattr(state, "mapper"):
        if state.session_id is not None or state.key is not None:
            return value  # persistent objects are the caller's business
        clone = state.mapper.class_manager.new_instance()
        for attr in state.mapper.column_attrs:
            if attr.key in state.dict:
                setattr(clone, attr.key, copy.deepcopy(state.dict[attr.key]))
        return clone
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(fresh_copy(v, _depth + 1) for v in value)
    if isinstance(value, list):
        return [fresh_copy(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: fresh_copy(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, set):
        return {fresh_copy(v, _depth + 1) for v in value}
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def refresh_expired(session: Session, value: Any, _depth: int = 0) -> None:
    """Load attributes a ``commit()`` expired, so returned ORM objects normalise to their data."""
    if _depth > 3:
        return
    state = getattr(value, "_sa_instance_state", None)
    if state is not None and hasattr(state, "mapper"):
        if state.expired_attributes and state.session_id == session.hash_key and not state.deleted:
            try:
                session.refresh(value)
            except SQLAlchemyError:
                pass
        return
    if isinstance(value, (list, tuple)):
        for item in value[:100]:
            refresh_expired(session, item, _depth + 1)
    elif isinstance(value, dict):
        for item in list(value.values())[:100]:
            refresh_expired(session, item, _depth + 1)
