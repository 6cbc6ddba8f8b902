"""What a statement is, computed once per compiled statement and cached on it.

``statement_info(sql, compiled)`` tells capture, at the cost of a dict lookup on
the hot path, whether a statement is the harness's own SQL, its verb and
shape, whether it has a top-level ``ORDER BY`` (on which result columns, with
which types and nullability), the result column types and SQLAlchemy's result
processors for them (applied to raw rows only at the end of the leg). The info
is stored on SQLAlchemy's cached ``Compiled`` object, and by SQL text for
statements SQLAlchemy compiles anew each time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dualdb.sql import HARNESS_MARK, TRANSACTION_VERBS, has_top_level_order_by, statement_shape, statement_verb

_INFO_ATTR = "_dualdb_info"
_TEXT_INFO: dict[str, StatementInfo] = {}
_TEXT_INFO_MAX = 4096


@dataclass(slots=True)
class StatementInfo:
    harness: bool
    verb: str
    shape: str
    ordered: bool
    order_keys: tuple[int, ...] | None
    types: tuple[Any, ...] | None
    columns: tuple[str, ...] | None
    mutable: bool
    processors: dict = field(default_factory=dict)
    column_list: list | None = None  # shared by every leg's statement dicts
    order_key_list: list | None = None
    order_by: list | None = None  # [[type name, nullable], ...] of the top-level ORDER BY keys

    def __post_init__(self) -> None:
        self.column_list = list(self.columns) if self.columns is not None else None
        self.order_key_list = list(self.order_keys) if self.order_keys is not None else None

    def result_processors(self, dialect: Any, coltypes: tuple | None) -> list | None:
        """SQLAlchemy's conversions of raw driver values for this statement's result columns."""
        if not self.types or dialect is None:
            return None
        key = coltypes
        found = self.processors.get(key)
        if found is None:
            found = []
            for i, type_ in enumerate(self.types):
                coltype = coltypes[i] if coltypes and i < len(coltypes) else None
                try:
                    found.append(type_._cached_result_processor(dialect, coltype) if type_ is not None else None)
                except Exception:  # e.g. an unknown numeric OID: compare the raw value
                    found.append(None)
            self.processors[key] = found
        return found


def processors_for(types: tuple, dialect: Any) -> list:
    out = []
    for type_ in types:
        try:
            out.append(type_._cached_result_processor(dialect, None) if type_ is not None else None)
        except Exception:
            out.append(None)
    return out


def statement_info(sql: str, compiled: Any = None) -> StatementInfo:
    """What the comparison needs to know about a statement, cached per compiled object / SQL text."""
    if compiled is not None:
        info = compiled.__dict__.get(_INFO_ATTR)
        if info is None:
            # a statement SQLAlchemy does not cache is compiled anew each time: the
            # text cache below still spares rebuilding its info
            text = getattr(compiled, "string", None) or sql
            info = _TEXT_INFO.get(text)
            entries = getattr(compiled, "_result_columns", None) or ()
            if info is None or len(info.types or ()) != len(entries):
                info = _build_info(text, compiled)
                _remember(text, info)
            try:
                setattr(compiled, _INFO_ATTR, info)
            except Exception:
                pass
        return info
    info = _TEXT_INFO.get(sql)
    if info is None:
        info = _build_info(sql, None)
        _remember(sql, info)
    return info


def _remember(sql: str, info: StatementInfo) -> None:
    if len(_TEXT_INFO) >= _TEXT_INFO_MAX:
        _TEXT_INFO.clear()
    _TEXT_INFO[sql] = info


def _build_info(sql: str, compiled: Any) -> StatementInfo:
    verb = statement_verb(sql)
    harness = sql.lstrip().startswith(HARNESS_MARK) or verb in TRANSACTION_VERBS
    types = columns = None
    mutable = True
    entries = getattr(compiled, "_result_columns", None) if compiled is not None else None
    if entries:
        types = tuple(_entry_type(e) for e in entries)
        columns = tuple(str(_entry_name(e)) for e in entries)
        mutable = any(_maybe_mutable(t) for t in types)
    ordered = has_top_level_order_by(sql)
    keys = sort_keys(compiled) if ordered and compiled is not None else None
    return StatementInfo(
        harness=harness,
        verb=verb,
        shape=statement_shape(sql),
        ordered=ordered,
        order_keys=_order_key_indices(keys, entries) if keys and entries else None,
        types=types,
        columns=columns,
        mutable=mutable,
        order_by=_order_by_meta(keys, entries) if keys else None,
    )


# -- the top-level ORDER BY keys -------------------------------------------------------

# what wraps the expression a key sorts on: ``desc()``/``nulls_last()``, parentheses, a
# label, and a reference by name (``order_by("name")``, ``order_by(desc("name"))``)
_KEY_WRAPPERS = frozenset(
    {"UnaryExpression", "Grouping", "Label", "_label_reference", "_textual_label_reference"}
)


def sort_keys(compiled: Any) -> list | None:
    """The top-level ORDER BY keys of a compiled statement, unwrapped: each is the expression it
    sorts on, or the name it refers to (a ``str``) for ``order_by("name")``."""
    clauses = getattr(getattr(compiled, "statement", None), "_order_by_clauses", None)
    if not clauses:
        return None
    try:
        return [_unwrap(clause) for clause in clauses]
    except Exception:  # an exotic clause: compare the order strictly
        return None


def _unwrap(element: Any) -> Any:
    for _ in range(4):
        inner = getattr(element, "element", None)
        if inner is None or type(element).__name__ not in _KEY_WRAPPERS:
            break
        element = inner
        if isinstance(element, str):
            break
    return element


def _entry_position(key: Any, entries: Any) -> int | None:
    """The result column a sort key is, if it is selected."""
    for index, entry in enumerate(entries):
        if isinstance(key, str):
            if key == _entry_name(entry):
                return index
            continue
        objects = entry[2] if isinstance(entry, tuple) else getattr(entry, "objects", ())
        for obj in objects:
            if obj is key or (hasattr(obj, "compare") and not isinstance(obj, str) and obj.compare(key)):
                return index
    return None


def _order_key_indices(keys: list, entries: Any) -> tuple[int, ...] | None:
    """Result column positions of the top-level ORDER BY keys, when all of them are selected.

    Knowing them lets the comparison tell "the same rows, tied on the sort
    key, in another order" (noise) from "another order" (a real difference).
    """
    positions = []
    try:
        for key in keys:
            found = _entry_position(key, entries)
            if found is None:
                return None
            positions.append(found)
    except Exception:  # an exotic clause: compare the order strictly
        return None
    return tuple(positions)


def _order_by_meta(keys: list, entries: Any) -> list | None:
    """Type and nullability of each top-level ORDER BY key (for explanations: NULLs, ties, text).

    A key given by name is the selected column of that name.
    """
    out = []
    try:
        for key in keys:
            if isinstance(key, str) and entries:
                found = _entry_position(key, entries)
                if found is not None:
                    key = _selected_expression(entries[found], key)
            type_ = getattr(key, "type", None) if not isinstance(key, str) else None
            nullable = getattr(key, "nullable", None) if not isinstance(key, str) else None
            out.append([type(type_).__name__ if type_ is not None else None, nullable])
    except Exception:
        return None
    return out


def _selected_expression(entry: Any, name: str) -> Any:
    objects = entry[2] if isinstance(entry, tuple) else getattr(entry, "objects", ())
    for obj in objects:
        if not isinstance(obj, str):
            return _unwrap(obj)
    return name


def _entry_type(entry: Any) -> Any:
    if isinstance(entry, tuple) and len(entry) >= 4:
        return entry[3]
    return getattr(entry, "type", None)


def _entry_name(entry: Any) -> Any:
    if isinstance(entry, tuple):
        return entry[0]
    return getattr(entry, "keyname", None) or getattr(entry, "name", "?")


def _maybe_mutable(type_: Any) -> bool:
    """Could the driver hand out a mutable object (dict/list) for this column type?"""
    if type_ is None:
        return True
    name = type(type_).__name__.upper()
    impl = type(getattr(type_, "impl", None)).__name__.upper()
    return any(k in name or k in impl for k in ("JSON", "ARRAY", "PICKLE", "HSTORE", "NULLTYPE", "RANGE"))
