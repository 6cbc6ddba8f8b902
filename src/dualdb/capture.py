"""Per test and leg: what the test executed and saw.

Statements are captured with SQLAlchemy engine events (SQL, parameters,
row counts, errors); rows are captured as the *application* fetches them, by
a cursor subclass on each driver, so the plugin never consumes a result the
code under test still has to read, and records only what the code saw.

Cost. Capture runs on every statement of every test, so the hot path does
as little as possible and defers the rest to the end of the leg:

* what can be known about a statement once (its shape, whether it has a
  top-level ``ORDER BY`` and on which result columns, the result column types,
  whether it is the harness's own SQL) is computed once per compiled statement
  and cached on SQLAlchemy's cached ``Compiled`` object;
* fetched rows are kept as the driver's tuples (a reference, no copy, unless
  the row may hold a mutable value such as a JSON dict); parameters are kept
  as the application passed them (``compiled_parameters``);
* normalisation (SQLAlchemy's result processors, then ``normalize``) runs
  once, in ``LegRecorder.finish()``.

Memory is bounded per leg: at most ``max_statements`` statements,
``max_rows`` rows per statement and ``max_cells`` values per leg are kept as
values; rows past those limits only feed two digests (in order, and as a
multiset), and past ``DIGEST_ROWS`` rows a statement's rows are only counted.
Long SQL is cut at ``MAX_SQL`` characters, long text and bytes values are
kept as prefix + length + hash (see ``normalize``). With the defaults a
typical leg is a few KB; ``benchmarks/bench_capture.py`` measures it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dualdb.harness_notes import FROZEN_NOW_NOTE  # noqa: F401 - re-exported
from dualdb.normalize import Normalizer, canonical_text
from dualdb.records import CapturedStatement, error_record, first_line  # noqa: F401 - first_line re-exported
from dualdb.sql import (  # noqa: F401 - re-exported: capture's callers asked it what a statement is
    HARNESS_MARK,
    TRANSACTION_VERBS,
    WRITE_VERBS,
    has_top_level_order_by,
    is_harness_sql,
    statement_shape,
    statement_verb,
)


DEFAULT_MAX_STATEMENTS = 200
DEFAULT_MAX_ROWS = 50
DEFAULT_MAX_CELLS = 2000
DIGEST_ROWS = 10_000
MAX_SQL = 4000
_MUTABLE = (dict, list, bytearray)
_INFO_ATTR = "_dualdb_info"
_TEXT_INFO: dict[str, StatementInfo] = {}
_TEXT_INFO_MAX = 4096


# -- what a statement is (computed once per compiled statement) ------------------------


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
    order_keys = _order_key_indices(compiled, entries) if ordered and entries else None
    order_by = _order_by_meta(compiled) if ordered and compiled is not None else None
    return StatementInfo(
        harness=harness,
        verb=verb,
        shape=statement_shape(sql),
        ordered=ordered,
        order_keys=order_keys,
        types=types,
        columns=columns,
        mutable=mutable,
        order_by=order_by,
    )


def _order_by_meta(compiled: Any) -> list | None:
    """Type and nullability of each top-level ORDER BY key (for explanations: NULLs, ties, text)."""
    clauses = getattr(getattr(compiled, "statement", None), "_order_by_clauses", None)
    if not clauses:
        return None
    out = []
    try:
        for clause in clauses:
            element = clause
            for _ in range(4):
                inner = getattr(element, "element", None)
                if inner is None or isinstance(inner, str) or type(element).__name__ not in (
                    "UnaryExpression", "Grouping", "Label", "_label_reference",
                ):
                    break
                element = inner
            type_ = getattr(element, "type", None)
            nullable = getattr(element, "nullable", None)
            out.append([type(type_).__name__ if type_ is not None else None, nullable])
    except Exception:
        return None
    return out


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


def _order_key_indices(compiled: Any, entries: Any) -> tuple[int, ...] | None:
    """Result column positions of the top-level ORDER BY keys, when all of them are selected.

    Knowing them lets the comparison tell "the same rows, tied on the sort
    key, in another order" (noise) from "another order" (a real difference).
    """
    statement = getattr(compiled, "statement", None)
    clauses = getattr(statement, "_order_by_clauses", None)
    if not clauses:
        return None
    keys = []
    try:
        for clause in clauses:
            element = clause
            for _ in range(4):
                inner = getattr(element, "element", None)
                if inner is None or type(element).__name__ not in (
                    "UnaryExpression", "_label_reference", "_textual_label_reference", "Grouping", "Label",
                ):
                    break
                element = inner
            found = None
            for index, entry in enumerate(entries):
                objects = entry[2] if isinstance(entry, tuple) else getattr(entry, "objects", ())
                if isinstance(element, str):
                    if element == _entry_name(entry):
                        found = index
                        break
                    continue
                for obj in objects:
                    if obj is element or (hasattr(obj, "compare") and not isinstance(obj, str) and obj.compare(element)):
                        found = index
                        break
                if found is not None:
                    break
            if found is None:
                return None
            keys.append(found)
    except Exception:  # an exotic clause: compare the order strictly
        return None
    return tuple(keys)


# -- one statement ---------------------------------------------------------------------


class StatementRecord:
    """One statement: SQL, parameters, and a fingerprint of its result or error."""

    __slots__ = (
        "sql", "info", "raw_params", "kept", "fetched", "rowcount", "error", "coltypes",
        "overflow", "overflow_hash", "overflow_set", "leg", "_dict", "lastrowid", "by_name",
    )

    def __init__(self, sql: str, info: StatementInfo, raw_params: Any, leg: LegRecorder):
        self.sql = sql if len(sql) <= MAX_SQL else sql[:MAX_SQL] + " …"
        self.info = info
        self.raw_params = raw_params
        self.kept: list | None = None
        self.fetched = 0
        self.rowcount: int | None = None
        self.lastrowid: int | None = None
        self.error: dict[str, str] | None = None
        self.coltypes: tuple | None = None  # driver type codes; not read (costly on psycopg, not needed)
        self.overflow = 0
        self.overflow_hash: Any = None
        self.overflow_set = 0
        self.leg = leg
        self._dict: dict | None = None
        self.by_name: tuple | None = None  # (types, columns) when matched to the cursor by name

    # called from the cursor, on the application's fetch
    def take(self, rows: list, cursor: Any) -> None:
        n = len(rows)
        leg = self.leg
        if self.kept is None:
            self.kept = []
            types = self.info.types
            if types is not None and n and len(rows[0]) != len(types):
                self._match_by_name(cursor)
        if not n:
            return
        self.fetched += n
        kept = self.kept
        take = leg.max_rows - len(kept)
        if take > 0:
            width = len(rows[0]) or 1
            take = min(take, leg.cells_left // width, n)
            if take > 0:
                leg.cells_left -= take * width
                part = rows if take == n else rows[:take]
                if self.info.mutable:
                    kept.extend(tuple(copy.deepcopy(v) if type(v) in _MUTABLE else v for v in row) for row in part)
                else:
                    kept.extend(part)
        if take < n:
            self._digest(rows[max(take, 0):])

    def _match_by_name(self, cursor: Any) -> None:
        """Result types declared for some columns only (``text(...).columns(flag=Boolean)``):
        SQLAlchemy matches them by name, and so does the capture."""
        try:
            names = [str(d[0]) for d in cursor.description or ()]
        except Exception:
            names = []
        known = {str(c).lower(): t for c, t in zip(self.info.columns or (), self.info.types or ())}
        self.by_name = (tuple(known.get(n.lower()) for n in names), names)

    def _types(self) -> tuple[list | None, Any]:
        """``(processors, types)`` for this statement's rows."""
        leg, info = self.leg, self.info
        if self.by_name is not None:
            types = self.by_name[0]
            return processors_for(types, leg.dialect), types
        return info.result_processors(leg.dialect, self.coltypes), info.types

    def _digest(self, rows: list) -> None:
        """Rows past the limits: a running hash in order, and an order-free multiset hash."""
        leg = self.leg
        room = DIGEST_ROWS - self.overflow
        if room <= 0:
            return
        rows = rows[:room]
        if self.overflow_hash is None:
            self.overflow_hash = hashlib.blake2b(digest_size=12)
        processors, types = self._types()
        for row in rows:
            text = canonical_text(leg.row_normalizer.row(row, processors, types)).encode()
            self.overflow_hash.update(text + b"\x1e")
            self.overflow_set = (self.overflow_set + _row_hash(text)) & 0xFFFFFFFFFFFFFFFF
        self.overflow += len(rows)

    def release(self) -> None:
        """Drop the raw rows and parameters once ``to_dict`` has rendered them."""
        if self._dict is not None:
            self.kept = None
            self.raw_params = None
            self.overflow_hash = None

    def to_dict(self, normalizer: Normalizer | None = None) -> CapturedStatement:
        if self._dict is not None:
            return self._dict
        leg = self.leg
        normalizer = normalizer or leg.row_normalizer
        info = self.info
        rows = None
        set_digest = None
        if self.kept is not None:
            processors, types = self._types()
            rows = [normalizer.row(r, processors, types) for r in self.kept]
            if self.overflow:
                total = self.overflow_set
                for row in rows:
                    total = (total + _row_hash(canonical_text(row).encode())) & 0xFFFFFFFFFFFFFFFF
                set_digest = f"{total:016x}"
        # "sql", "params", "rows" and "error" are always there (readers index them);
        # the rest only when set, and shared parts (SQL, column names) are shared:
        # a leg keeps these dicts for the whole run.
        out: CapturedStatement = {
            "sql": self.sql,
            "params": params_for_report(self.raw_params, normalizer),
            "rows": rows,
            "error": self.error,
        }
        keys = key_positions(self.raw_params)
        if keys:
            out["param_keys"] = keys
        if rows is not None:
            out["columns"] = self.by_name[1] if self.by_name is not None else info.column_list
            if self.fetched != len(rows):
                out["fetched"] = self.fetched
        if self.rowcount is not None:
            out["rowcount"] = self.rowcount
        if self.lastrowid is not None:
            out["lastrowid"] = self.lastrowid
        if self.overflow:
            out["digest"] = self.overflow_hash.hexdigest()
            out["set_digest"] = set_digest
            out["digested_rows"] = self.overflow
        if info.ordered:
            if info.order_by is not None:
                out["order_by"] = info.order_by
            if info.order_keys is not None:
                out["order_keys"] = info.order_key_list  # implies "ordered"
            else:
                out["ordered"] = True
        self._dict = out
        return self._dict


def _row_hash(text: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


KEY_NAME_RE = re.compile(r"(?:^|_)(?:id|pk|key)(?:_\d+)?$", re.I)
_KEY_POSITIONS: dict[tuple, list[int] | None] = {}


def key_positions(params: Any) -> list[int] | None:
    """Positions (in ``params_for_report`` order) of parameters bound to a key: ``id``, ``user_id``,
    ``id_1``. Their values are ids, and ids that differ between the legs are a real difference."""
    if isinstance(params, BatchRows):  # one dict per row: keys are judged by name (compare)
        return None
    if isinstance(params, (list, tuple)) and len(params) == 1 and isinstance(params[0], Mapping):
        params = params[0]
    if not isinstance(params, Mapping) or not params:
        return None
    names = tuple(sorted(params))
    found = _KEY_POSITIONS.get(names, False)
    if found is False:
        found = [i for i, name in enumerate(names) if KEY_NAME_RE.search(str(name))] or None
        if len(_KEY_POSITIONS) >= 4096:
            _KEY_POSITIONS.clear()
        _KEY_POSITIONS[names] = found
    return found


def params_for_report(params: Any, normalizer: Normalizer) -> Any:
    """Parameters, normalised, as a list of values.

    For compiled statements these are SQLAlchemy's ``compiled_parameters`` —
    the Python values before the dialect's bind processing — so the two legs
    see the same parameters for the same call; they are listed in the order of
    their bind names (a leg keeps these for the whole run, and a dict per
    statement costs three times as much as a list). Driver-level parameters
    (``exec_driver_sql``, batched inserts) are listed in placeholder order.
    """
    if params is None:
        return None
    try:
        if isinstance(params, BatchRows):
            return [normalizer(dict(p)) for p in params]
        if isinstance(params, (list, tuple)) and len(params) == 1 and isinstance(params[0], Mapping):
            params = params[0]
        if isinstance(params, Mapping):
            if not params:
                return None
            return normalizer.values([params[n] for n in sorted(params)])
        if isinstance(params, (list, tuple)) and params and isinstance(params[0], Mapping):
            return [normalizer(dict(p)) for p in params]
        values = normalizer(list(params) if isinstance(params, tuple) else params)
        return values if values not in ([], {}) else None
    except Exception:  # parameters of exotic types are only evidence
        return repr(params)[:200]


# -- one leg ---------------------------------------------------------------------------


@dataclass
class LegRecorder:
    """Everything one leg of one test recorded; the plugin turns it into a report ``Leg``."""

    backend: str
    max_statements: int = DEFAULT_MAX_STATEMENTS
    max_rows: int = DEFAULT_MAX_ROWS
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    ended: dt.datetime | None = None
    observations: list[dict[str, Any]] = field(default_factory=list)
    statements: list[StatementRecord] = field(default_factory=list)
    dropped_statements: int = 0
    notes: list[str] = field(default_factory=list)
    harness_notes: list[str] = field(default_factory=list)
    outcome: str = "passed"
    error: dict[str, str] | None = None
    normalizer: Normalizer = field(default_factory=Normalizer)
    max_cells: int = DEFAULT_MAX_CELLS
    dialect: Any = None

    def __post_init__(self) -> None:
        self.normalizer.clock_window = (self.started, self.started + dt.timedelta(hours=1))
        # rows: a datetime object's fraction is not compared (an ORM row carries every column,
        # looked at or not); what the test observed, response bodies included, keeps it
        self.row_normalizer = Normalizer(
            clock_window=self.normalizer.clock_window, max_text=self.normalizer.max_text,
            max_bytes=self.normalizer.max_bytes, fraction_form=False,
        )
        self._lock = threading.Lock()
        self.cells_left = self.max_cells
        self._dicts: list[dict[str, Any]] | None = None

    def bind(self, dialect: Any) -> None:
        """The dialect whose result processors turn this leg's raw rows into application values."""
        self.dialect = dialect

    def observe(self, label: str, value: Any) -> None:
        """Record a value to compare across the two legs even when both pass."""
        with self._lock:
            self.observations.append({"label": str(label), "value": self.normalizer(value)})

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def note_harness(self, text: str) -> None:
        """A finding that the isolation itself may have caused (shown next to the verdict)."""
        if text not in self.harness_notes:
            self.harness_notes.append(text)

    def new_statement(self, sql: str, info: StatementInfo, params: Any) -> StatementRecord | None:
        with self._lock:
            if len(self.statements) >= self.max_statements:
                self.dropped_statements += 1
                return None
            record = StatementRecord(sql, info, params, self)
            self.statements.append(record)
            self._dicts = None
            return record

    def finish(self) -> None:
        """End of the leg: fix the clock window, normalise what was captured, look for harness effects."""
        self.ended = dt.datetime.now(dt.timezone.utc)
        self.normalizer.clock_window = self.row_normalizer.clock_window = (self.started, self.ended)
        self._detect_frozen_clock()
        self.statement_dicts()
        for record in self.statements:  # the dicts are the leg's record now: free the raw rows
            record.release()

    def statement_dicts(self) -> list[dict[str, Any]]:
        if self._dicts is None or len(self._dicts) != len(self.statements):
            self._dicts = [s.to_dict(self.row_normalizer) for s in self.statements]
        return self._dicts

    def _detect_frozen_clock(self) -> None:
        """Two writing statements got the very same microsecond from the database clock,
        and the test then sorted or filtered on that column.

        That is PostgreSQL's ``now()``/``CURRENT_TIMESTAMP``: the start time of
        the *transaction*, and the whole test runs in one. In the application
        each request has its own transaction and its own ``now()``.
        """
        seen: dict[dt.datetime, int] = {}
        frozen_columns: set[str] = set()
        first_frozen = None
        for index, record in enumerate(self.statements):
            info = record.info
            if info.verb not in ("INSERT", "UPDATE") or not record.kept:
                continue
            processors, _ = record._types()
            sent = _datetimes_in(record.raw_params)
            for row in record.kept:
                for i, value in enumerate(row):
                    if processors and i < len(processors) and processors[i] is not None and value is not None:
                        try:
                            value = processors[i](value)
                        except Exception:
                            continue
                    if not isinstance(value, dt.datetime) or value.microsecond == 0 or value in sent:
                        continue
                    if not self.normalizer.is_clock(value):
                        continue
                    first = seen.setdefault(value, index)
                    if first != index and info.columns and i < len(info.columns):
                        frozen_columns.add(info.columns[i].upper())
                        first_frozen = index if first_frozen is None else first_frozen
        if not frozen_columns:
            return
        for record in self.statements[first_frozen:]:
            sql = record.sql.upper()
            for clause in ("ORDER BY", "WHERE", "MAX(", "MIN("):
                at = sql.find(clause)
                if at >= 0 and any(re.search(rf"\b{re.escape(c)}\b", sql[at:]) for c in frozen_columns):
                    self.note_harness(FROZEN_NOW_NOTE)
                    return




def _datetimes_in(params: Any) -> set:
    out: set = set()
    if isinstance(params, Mapping):
        values = params.values()
    elif isinstance(params, (list, tuple)):
        values = []
        for p in params:
            values.extend(p.values() if isinstance(p, Mapping) else [p])
    else:
        return out
    for v in values:
        if isinstance(v, dt.datetime):
            out.add(v)
    return out


# -- drivers: cursors that record rows as the application fetches them ----------------


class _RecordingMixin:
    _dualdb_record: StatementRecord | None = None

    def _dualdb_rows(self, rows: list) -> list:
        record = self._dualdb_record
        if record is not None:
            record.take(rows, self)
        return rows


class RecordingSqliteCursor(_RecordingMixin, sqlite3.Cursor):
    def fetchone(self):
        row = super().fetchone()
        if self._dualdb_record is not None:  # no row is a result too (``.scalar()`` found nothing)
            self._dualdb_record.take([row] if row is not None else [], self)
        return row

    def fetchmany(self, size: int | None = None):
        rows = super().fetchmany(self.arraysize if size is None else size)
        return self._dualdb_rows(rows)

    def fetchall(self):
        return self._dualdb_rows(super().fetchall())

    def __next__(self):
        row = super().__next__()
        if self._dualdb_record is not None:
            self._dualdb_record.take([row], self)
        return row


class RecordingSqliteConnection(sqlite3.Connection):
    """``sqlite3.connect(factory=...)``: every cursor records what it hands out."""

    def cursor(self, factory=RecordingSqliteCursor):  # noqa: ANN001
        return super().cursor(factory)


class RecordingPsycopgCursor(_RecordingMixin, psycopg.Cursor):
    def fetchone(self):
        row = super().fetchone()
        if self._dualdb_record is not None:
            self._dualdb_record.take([row] if row is not None else [], self)
        return row

    def fetchmany(self, size: int = 0):
        return self._dualdb_rows(super().fetchmany(size))

    def fetchall(self):
        return self._dualdb_rows(super().fetchall())

    def __iter__(self):
        for row in super().__iter__():
            if self._dualdb_record is not None:
                self._dualdb_record.take([row], self)
            yield row


_BATCH_KEY = re.compile(r"__(\d+)$")


def batch_params(context: Any, compiled_params: list, parameters: Any) -> list:
    """The application's values (one dict per row) of the rows this execution of a batch sends.

    An ORM flush of several new rows is one statement per row on SQLite and one
    multi-row ``INSERT … VALUES`` on PostgreSQL ("insertmanyvalues"), whose
    driver parameters are renamed (``name__0``, ``name__1``) and already
    bind-processed. The rows as the application passed them are the same on
    both engines, which is what lets values the legs sent differently be
    learnt (``compare.learn_differing_inputs``) however the dialect batched them.
    """
    if isinstance(parameters, (list, tuple)) and parameters and isinstance(parameters[0], (list, tuple, Mapping)):
        return BatchRows(compiled_params)  # cursor.executemany(): every row at once
    if isinstance(parameters, Mapping):  # pyformat: name__0, name__1 ...
        numbers = {int(m.group(1)) for key in parameters if (m := _BATCH_KEY.search(str(key)))}
        count = max(numbers) + 1 if numbers else 1
    elif isinstance(parameters, (list, tuple)):  # qmark: one flat tuple of every row's values
        count = max(1, len(parameters) // max(1, len(compiled_params[0])))
    else:
        count = 1
    start = context.__dict__.get("_dualdb_batch_position", 0)
    context.__dict__["_dualdb_batch_position"] = start + count
    return BatchRows(compiled_params[start:start + count])


class BatchRows(list):
    """The rows of a batched write: kept as one dict per row, even when the batch has one row."""


class StatementCapture:
    """Engine events that feed the leg currently running on that engine.

    Listeners stay installed for the whole run (adding and removing them per
    test would cost more than the capture); with no active leg they return at once.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.leg: LegRecorder | None = None
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._on_error)
        self._patch_existing_pool()

    def _patch_existing_pool(self) -> None:
        """Connections opened before capture was installed need the recording cursor too."""
        # New connections get it in _on_connect; pooled ones were opened by schema
        # creation only, so disposing the pool is the simplest way to cover them.
        self.engine.dispose()

    def _on_connect(self, dbapi_conn, _record) -> None:  # noqa: ANN001
        if isinstance(dbapi_conn, psycopg.Connection):
            dbapi_conn.cursor_factory = RecordingPsycopgCursor

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        leg = self.leg
        if leg is None:
            return
        compiled = getattr(context, "compiled", None)
        info = statement_info(statement, compiled)
        if info.harness:
            return
        params = parameters
        if compiled is not None:
            compiled_params = context.compiled_parameters
            if len(compiled_params) == 1 and not executemany:
                params = compiled_params[0]
            elif len(compiled_params) > 1:
                params = batch_params(context, compiled_params, parameters)
        record = leg.new_statement(statement, info, params)
        if isinstance(cursor, _RecordingMixin):
            cursor._dualdb_record = record

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.leg is None:
            return
        record = getattr(cursor, "_dualdb_record", None)
        if record is not None and record.info.verb in WRITE_VERBS and cursor.description is None:
            # (psycopg builds ``description`` on each access: only writes are asked; with
            # RETURNING the rows are the result and the driver's count is not final yet)
            count = cursor.rowcount
            record.rowcount = count if count is not None and count >= 0 else None
            if not executemany and record.info.verb == "INSERT" and cursor.__class__ is RecordingSqliteCursor:
                # SQLAlchemy reads a new row's id from lastrowid on SQLite where
                # PostgreSQL uses RETURNING: keep it so the ids can be compared
                record.lastrowid = cursor.lastrowid

    def _on_error(self, context) -> None:  # noqa: ANN001
        leg = self.leg
        if leg is None:
            return
        statement = context.statement or ""
        execution = context.execution_context
        record = getattr(getattr(execution, "cursor", None), "_dualdb_record", None)
        if record is None or record.leg is not leg:
            # the cursor is not reachable from the context (some async adapters): the
            # failing statement is normally the last one this leg recorded
            last = leg.statements[-1] if leg.statements else None
            if last is not None and last.error is None and statement and last.sql == statement[: len(last.sql)]:
                record = last
        if record is None or record.leg is not leg or (statement and record.sql != statement[: len(record.sql)]):
            # the statement failed before reaching the driver (e.g. in a bind processor)
            if not statement:
                return
            info = statement_info(statement, getattr(execution, "compiled", None))
            if info.harness:
                return
            record = leg.new_statement(statement, info, context.parameters)
            if record is None:
                return
        if record.error is None:
            record.error = error_record(context.original_exception)

    def start(self, leg: LegRecorder) -> None:
        leg.bind(self.engine.dialect)
        self.leg = leg

    def stop(self) -> None:
        self.leg = None



