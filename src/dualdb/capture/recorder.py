"""One leg's record: each statement, its parameters and the rows the application fetched.

Cost. This runs on every statement of every test, so the hot path does as
little as possible and defers the rest to the end of the leg: fetched rows are
kept as the driver's tuples (a reference, no copy, unless the row may hold a
mutable value such as a JSON dict); parameters are kept as the application
passed them (``compiled_parameters``); normalisation (SQLAlchemy's result
processors, then ``normalize``) runs once, in ``LegRecorder.finish()``.

Memory is bounded per leg: at most ``max_statements`` statements,
``max_rows`` rows per statement and ``max_cells`` values per leg are kept as
values; rows past those limits only feed two digests (in order, and as a
multiset), and past ``DIGEST_ROWS`` rows a statement's rows are only counted.
Long SQL is cut at ``MAX_SQL`` characters, long text and bytes values are
kept as prefix + length + hash (see ``normalize``). With the defaults a
typical leg is a few KB; ``benchmarks/bench_capture.py`` measures it.

At the end of a leg, ``finish()`` also looks for one harness effect: a frozen
database clock (``FROZEN_NOW_NOTE``).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dualdb.config import Settings
from dualdb.capture.statement_info import StatementInfo, processors_for
from dualdb.harness_notes import FROZEN_NOW_NOTE
from dualdb.normalize import Normalizer, canonical_text
from dualdb.records import CapturedStatement, ErrorRecord, Observation

DEFAULT_MAX_STATEMENTS = Settings.max_statements  # the bounds' defaults live with the option table
DEFAULT_MAX_ROWS = Settings.max_rows
DEFAULT_MAX_CELLS = Settings.max_cells
DIGEST_ROWS = 10_000
MAX_SQL = 4000
_MUTABLE = (dict, list, bytearray)


# -- one statement ---------------------------------------------------------------------


class StatementRecord:
    """One statement: SQL, parameters, and a fingerprint of its result or error."""

    __slots__ = (
        "sql", "info", "raw_params", "kept", "fetched", "rowcount", "error", "coltypes",
        "overflow", "overflow_hash", "overflow_set", "leg", "_record", "lastrowid", "by_name",
    )

    def __init__(self, sql: str, info: StatementInfo, raw_params: Any, leg: LegRecorder):
        self.sql = sql if len(sql) <= MAX_SQL else sql[:MAX_SQL] + " …"
        self.info = info
        self.raw_params = raw_params
        self.kept: list | None = None
        self.fetched = 0
        self.rowcount: int | None = None
        self.lastrowid: int | None = None
        self.error: ErrorRecord | None = None
        self.coltypes: tuple | None = None  # driver type codes; not read (costly on psycopg, not needed)
        self.overflow = 0
        self.overflow_hash: Any = None
        self.overflow_set = 0
        self.leg = leg
        self._record: CapturedStatement | None = None
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
        """Drop the raw rows and parameters once ``to_record`` has rendered them."""
        if self._record is not None:
            self.kept = None
            self.raw_params = None
            self.overflow_hash = None

    def to_record(self, normalizer: Normalizer | None = None) -> CapturedStatement:
        if self._record is not None:
            return self._record
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
        # shared parts (SQL, column names, ORDER BY metadata) are shared: a leg keeps these
        # records for the whole run
        self._record = CapturedStatement(
            sql=self.sql,
            params=params_for_report(self.raw_params, normalizer),
            rows=rows,
            error=self.error,
            columns=(self.by_name[1] if self.by_name is not None else info.column_list) if rows is not None else None,
            fetched=self.fetched if rows is not None and self.fetched != len(rows) else None,
            rowcount=self.rowcount,
            lastrowid=self.lastrowid,
            digest=self.overflow_hash.hexdigest() if self.overflow else None,
            set_digest=set_digest,
            digested_rows=self.overflow,
            ordered=bool(info.ordered),
            order_keys=info.order_key_list if info.ordered and info.order_keys is not None else None,
            order_by=info.order_by if info.ordered else None,
            param_keys=key_positions(self.raw_params) or None,
        )
        return self._record


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
    observations: list[Observation] = field(default_factory=list)
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
        self._records: list[CapturedStatement] | None = None

    def bind(self, dialect: Any) -> None:
        """The dialect whose result processors turn this leg's raw rows into application values."""
        self.dialect = dialect

    def observe(self, label: str, value: Any) -> None:
        """Record a value to compare across the two legs even when both pass."""
        with self._lock:
            self.observations.append(Observation(str(label), self.normalizer(value)))

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
            self._records = None
            return record

    def finish(self) -> None:
        """End of the leg: fix the clock window, normalise what was captured, look for harness effects."""
        self.ended = dt.datetime.now(dt.timezone.utc)
        self.normalizer.clock_window = self.row_normalizer.clock_window = (self.started, self.ended)
        self._detect_frozen_clock()
        self.statement_records()
        for record in self.statements:  # the dicts are the leg's record now: free the raw rows
            record.release()

    def statement_records(self) -> list[CapturedStatement]:
        if self._records is None or len(self._records) != len(self.statements):
            self._records = [s.to_record(self.row_normalizer) for s in self.statements]
        return self._records

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


class BatchRows(list):
    """The rows of a batched write: kept as one dict per row, even when the batch has one row."""
