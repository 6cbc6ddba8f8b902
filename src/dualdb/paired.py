"""Paired mode: run the same code on SQLite and on PostgreSQL inside one test, and compare.

This is the logic behind the ``dual`` fixture, kept free of pytest so it can be
used (and tested) on its own::

    paired = Paired({"sqlite": sqlite_backend, "postgresql": pg_backend})
    result = paired.run(names_in_order, ["b", "B", "a"])   # fn(session, *args) on each engine
    paired.assert_same(names_in_order, ["b", "B", "a"])    # DivergenceError with a side-by-side diff
    paired.close()

Why it is built this way
------------------------
* **One rolled-back transaction per engine for the whole test.** Everything a
  paired test writes disappears at the end, like ``db_session``.
* **One savepoint per Hypothesis example, per engine.** A differential
  property runs hundreds of examples in one test; if example 7 could see the
  rows of example 6, a divergence would depend on the order Hypothesis ran
  them and would not shrink (Hypothesis would call it flaky). The first
  ``run()`` inside an example opens the savepoint and registers its rollback
  with ``hypothesis.control.cleanup``. PostgreSQL sequences ignore rollbacks,
  so they are put back as well: ids restart per example on both engines.
* **One savepoint and one fresh ``Session`` per call.** ``fn`` may
  ``commit()`` (a savepoint release: the rows stay for the rest of the example)
  or raise. When it raises, only its own work is undone, so a PostgreSQL error
  does not poison the next call with "current transaction is aborted".
* **A one-sided exception is a result, not a crash.** ``run()`` returns a
  ``Raised`` in place of the value for the engine that raised; ``assert_same``
  turns "one engine raised, the other did not" (or "both raised, differently")
  into a ``DivergenceError`` that Hypothesis shrinks like any other failure.
* **Results are compared normalised**, with the same ``dualdb.normalize`` rules
  as the divergence report: ``Decimal('1.50')`` equals ``1.5``, dict key order
  does not matter, a naive datetime never equals an aware one.
* **The reported example is as small as we can make it.** Hypothesis's
  shrinker changes one thing at a time and sometimes stops at ``['aa', 'Å']``
  when only two changes together reach ``['a', 'A']``. When Hypothesis replays
  its final example, ``assert_same`` tries a bounded number of single and
  paired simplifications of the call's arguments (each in a savepoint rolled
  back afterwards) and reports the simplest call that still diverges the
  same way, naming Hypothesis's original.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import itertools
import json
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from dualdb.compare import classify
from dualdb.normalize import Normalizer, canonical_text
from dualdb.records import first_line

ENGINES = ("sqlite", "postgresql")
_TRACKER_KEY = "dualdb_savepoints"  # isolation.TRACKER_KEY: paired connections run untracked
_SEQUENCES_SQL = (
    "/* dualdb */ SELECT format('%%I.%%I', schemaname, sequencename), last_value FROM pg_sequences"
)
_SETVAL_SQL = "/* dualdb */ SELECT setval(%(name)s::regclass, %(value)s::bigint, true)"
_UNUSED_SQL = (
    "/* dualdb */ SELECT setval(%(name)s::regclass, start_value, false) FROM pg_sequences "
    "WHERE format('%%I.%%I', schemaname, sequencename) = %(key)s::text"
)
SIMPLIFY_ATTEMPTS = 400
SIMPLIFY_SECONDS = 2.0
REPR_LIMIT = 120
DIFF_WIDTH = 48


# -- what an engine returned ------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    """What an engine raised instead of returning a value.

    Two ``Raised`` compare equal when they are the same kind of error: for
    database errors the DB-API category SQLAlchemy maps both drivers to
    (``IntegrityError``, ``DataError``, ``OperationalError`` ...), so
    sqlite3's and psycopg's spellings of one failure are not a difference.
    """

    type: str
    message: str = field(compare=False)
    database: bool = False
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        database = isinstance(exc, (DBAPIError, SQLAlchemyError))
        orig = getattr(exc, "orig", None)
        message = first_line(str(orig if orig is not None else exc))
        return cls(type=type(exc).__name__, message=message, database=database, exception=exc)

    def describe(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type

    def as_report(self) -> dict[str, str]:
        """The shape ``compare`` uses for a statement that raised: ``{"error": "Type: message"}``."""
        return {"error": self.describe()}


@dataclass
class PairedResult:
    """Both engines' results of one ``run()``: ``result.sqlite``, ``result.postgresql``.

    Unpacks as ``sqlite_value, pg_value = dual.run(...)``. A value is a
    ``Raised`` when that engine raised. ``normalized`` holds the canonical forms
    that are compared; ``statements`` what each engine executed for this call.
    """

    call: str
    args: tuple
    values: dict[str, Any]
    normalized: dict[str, Any]
    statements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    example: int | None = None
    hypothesis: bool = False

    @property
    def sqlite(self) -> Any:
        return self.values["sqlite"]

    @property
    def postgresql(self) -> Any:
        return self.values["postgresql"]

    def __getitem__(self, engine: str) -> Any:
        return self.values[engine]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values[name] for name in ENGINES)

    @property
    def same(self) -> bool:
        return self.difference() is None

    def difference(self, ordered: bool = True) -> str | None:
        """``None`` when the engines agree, else the kind: ``value``, ``outcome`` or ``error``."""
        a, b = (self.values[name] for name in ENGINES)
        a_raised, b_raised = isinstance(a, Raised), isinstance(b, Raised)
        if a_raised and b_raised:
            return None if a == b else "error"
        if a_raised or b_raised:
            return "outcome"
        left, right = (self.normalized[name] for name in ENGINES)
        if not ordered:
            left, right = _as_multiset(left), _as_multiset(right)
        return None if canonical_text(left) == canonical_text(right) else "value"

    def report_values(self) -> dict[str, Any]:
        return {
            name: self.values[name].as_report() if isinstance(self.values[name], Raised) else self.normalized[name]
            for name in ENGINES
        }

    def side_by_side(self) -> str:
        return side_by_side(*(self._shown(name) for name in ENGINES), headers=ENGINES)

    def _shown(self, name: str) -> Any:
        value = self.values[name]
        if isinstance(value, Raised):
            return _Text(f"raised {value.describe()}")
        return self.normalized[name]


class DivergenceError(AssertionError):
    """SQLite and PostgreSQL disagreed on one call; ``.result`` holds both sides."""

    def __init__(self, result: PairedResult, kind: str, ordered: bool = True, simplified_from: str | None = None):
        self.result = result
        self.kind = kind
        self.ordered = ordered
        self.simplified_from = simplified_from
        super().__init__(self._message())

    def _message(self) -> str:
        what = {
            "value": "returned different results",
            "outcome": "raised on one engine only",
            "error": "raised different errors",
        }[self.kind]
        lines = [f"SQLite and PostgreSQL disagree on {self.result.call}: {what} ({self.kind})", ""]
        lines.append(self.result.side_by_side())
        if self.simplified_from:
            lines += ["", f"(simplified by dualdb from Hypothesis's example {self.simplified_from})"]
        if self.kind == "value" and self.ordered and _is_list(self.result.normalized.get("sqlite")):
            lines += ["", "(results are compared in order; pass ordered=False to compare them as a multiset)"]
        return "\n".join(lines)


# -- the paired runner ------------------------------------------------------------------


class Paired:
    """Runs callables on both engines inside rolled-back transactions; see the module docstring.

    ``backends`` maps ``"sqlite"`` and ``"postgresql"`` to a ``Backend`` (or a
    plain ``Engine``). ``recorder`` (optional) records each call's statements
    for the divergence report: ``recorder.start(engine_name)`` returns a token,
    ``recorder.stop(token)`` the statements as report dicts.
    """

    def __init__(self, backends: Mapping[str, Any], *, recorder: Any = None):
        missing = [name for name in ENGINES if name not in backends]
        if missing:
            raise ValueError(f"Paired needs both engines; missing: {', '.join(missing)}")
        self.started = dt.datetime.now(dt.timezone.utc)
        self.normalizer = Normalizer(clock_window=(self.started, self.started + dt.timedelta(hours=1)))
        self._sides = {name: _Side(name, _engine_of(backends[name])) for name in ENGINES}
        self._recorder = recorder
        self._in_example = False
        self._explicit_example = False
        self.examples = 0  # examples (Hypothesis or explicit) that used the pair
        self.calls = 0
        self.last: PairedResult | None = None
        self.last_divergence: tuple[PairedResult, str] | None = None
        self.closed = False

    def __repr__(self) -> str:
        return "<dual sqlite+postgresql>"

    @classmethod
    def from_run_state(cls, state: Any, record: bool = True) -> Paired:
        """Both backends of a plugin ``RunState``, recording statements through its captures."""
        backends = {name: state.backend(name) for name in ENGINES}
        return cls(backends, recorder=RunStateRecorder(state, backends) if record else None)

    # -- public API --------------------------------------------------------------------

    def run(self, fn: Callable[..., Any], *args: Any) -> PairedResult:
        """Call ``fn(session, *args)`` on SQLite, then on PostgreSQL; return both results.

        Each engine gets its own copy of ``args`` (mapped instances are copied
        column by column, so the same generated row can be added to both
        sessions) and a fresh ``Session`` whose ``commit()`` is a savepoint
        release. An exception from ``fn`` becomes a ``Raised`` result.
        """
        if self.closed:
            raise RuntimeError("this dual fixture is closed (used after its test ended?)")
        self._enter_hypothesis_example()
        result = self._run_both(fn, args)
        self.calls += 1
        self.last = result
        return result

    def assert_same(self, fn: Callable[..., Any], *args: Any, ordered: bool = True) -> PairedResult:
        """Like ``run``; raise ``DivergenceError`` (an ``AssertionError``) when the engines disagree.

        ``ordered=False`` compares a list result as a multiset (for queries
        without ``ORDER BY``). When both engines raise the same database error,
        that is agreement; when both raise the same non-database exception, it
        is re-raised — that is a bug in ``fn``, not a dialect difference.
        """
        marks = None
        if _final_hypothesis_example():  # keep a way back to before this call, to simplify it
            self._enter_hypothesis_example()
            marks = {name: side.mark() for name, side in self._sides.items()}
        result = self.run(fn, *args)
        kind = result.difference(ordered=ordered)
        if marks is not None:
            for name, side in self._sides.items():
                side.settle(marks[name], rewind=kind is not None)
        if kind is not None:
            original = None
            if marks is not None:
                simpler = self._simplify(fn, result, kind, ordered)
                if simpler is not result:
                    original, result = result.call, simpler
            self.last_divergence = (result, kind)
            raise DivergenceError(result, kind, ordered, simplified_from=original)
        first = result.values["sqlite"]
        if isinstance(first, Raised) and not first.database and first.exception is not None:
            raise first.exception
        return result

    @contextmanager
    def example(self) -> Iterator[Paired]:
        """Isolate a block like a Hypothesis example (for loops over hand-picked cases)."""
        if self._in_example:
            yield self
            return
        self._begin_example(explicit=True)
        try:
            yield self
        finally:
            self._end_example()

    def close(self) -> None:
        """Roll everything back and return the connections to the pool."""
        if self.closed:
            return
        self.closed = True
        if self._in_example:
            self._end_example()
        problems = []
        for side in self._sides.values():
            try:
                side.close()
            except Exception as exc:  # close the other side too
                problems.append(exc)
        if problems:
            raise problems[0]

    # -- report ---------------------------------------------------------------------------

    def report_legs(self, outcome: str, error: dict[str, str] | None, exception: BaseException | None) -> dict[str, dict]:
        """The two legs of this test's report entry, as plain data.

        When the test failed on a divergence, the legs are the two engines'
        results for the divergent call (for a Hypothesis test: the minimal
        example, which Hypothesis replays last) and ``paired_difference`` carries
        the first difference with ``source="hypothesis"``. Otherwise both legs
        carry the test's own outcome.
        """
        divergence = self._divergence_for(outcome, exception)
        if divergence is None:
            return {
                name: {
                    "outcome": outcome,
                    "error": error,
                    "observations": [],
                    "statements": [],
                    "notes": [],
                }
                for name in ENGINES
            }
        result, kind = divergence
        legs = {}
        for name in ENGINES:
            value = result.values[name]
            raised = isinstance(value, Raised)
            legs[name] = {
                "outcome": "failed" if raised else "passed",
                "error": {"type": value.type, "message": value.message} if raised else None,
                "observations": [] if raised else [{"label": result.call, "value": result.normalized[name]}],
                "statements": result.statements.get(name, []),
                "notes": [],
            }
        legs[ENGINES[0]]["paired_difference"] = {
            "kind": kind,
            "first_difference": self._first_difference(result, kind, exception),
        }
        return legs

    def _divergence_for(self, outcome: str, exception: BaseException | None) -> tuple[PairedResult, str] | None:
        if outcome not in ("failed", "error"):
            return None
        found = _find_divergence_error(exception)
        if found is not None:
            return found.result, found.kind
        if self.last is not None:  # the test asserted on run()'s results itself
            kind = self.last.difference()
            if kind is not None:
                return self.last, kind
        return None

    def _first_difference(self, result: PairedResult, kind: str, exception: BaseException | None) -> dict[str, Any]:
        values = result.report_values()
        a, b = (values[name] for name in ENGINES)
        falsifying = _falsifying_example(exception)
        source = "hypothesis" if result.hypothesis else "paired"
        simplified_from = getattr(_find_divergence_error(exception), "simplified_from", None)
        if falsifying and simplified_from:
            note = f"{falsifying}\n(simplified by dualdb to {result.call})"
        elif falsifying:
            note = falsifying
        elif result.hypothesis:
            note = f"minimal example found by Hypothesis: {result.call}"
        else:
            note = f"paired call {result.call}"
        focus = {
            name: _relevant_statement(result.statements.get(name, []), isinstance(result.values[name], Raised))
            for name in ENGINES
        }
        sql = {name: (stmt or {}).get("sql") for name, stmt in focus.items()}
        first_stmt = focus[ENGINES[0]] or focus[ENGINES[1]] or {}
        return {
            "source": source,
            "index": None,
            "label": result.call,
            "sql": sql if any(sql.values()) else None,
            "params": first_stmt.get("params"),
            "ordered": bool(first_stmt.get("ordered")),
            "values": values,
            "shape": "error" if kind in ("outcome", "error") else classify(a, b),
            "note": note,
            "example": {
                "call": result.call,
                "args": self._normalize_safely(list(result.args)),
                "hypothesis": falsifying,
                "simplified_from": getattr(_find_divergence_error(exception), "simplified_from", None),
                "examples_run": self.examples,
            },
        }

    # -- internals ------------------------------------------------------------------------

    def _call(
        self, name: str, fn: Callable[..., Any], args: tuple, discard: bool = False
    ) -> tuple[Any, Any, list[dict[str, Any]]]:
        """One engine's side of a ``run()``: a call savepoint, a fresh session, ``fn``.

        Work ``fn`` committed stays for the rest of the example; uncommitted
        work is discarded when the session closes (a request ending), and all
        of it when ``fn`` raised. PostgreSQL sequences advanced by discarded
        work are put back, as SQLite's ids are.
        """
        side = self._sides[name]
        conn = side.connection()
        own_args = fresh_copy(args)
        before = side.sequence_snapshot()
        trial = conn.begin_nested() if discard else None  # a what-if run: leaves no trace
        token = self._recorder.start(name) if self._recorder is not None else None
        call_tx = conn.begin_nested()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        committed: list[bool] = []
        event.listen(session, "after_commit", lambda _session: committed.append(True))
        failed = True
        try:
            try:
                value = fn(session, *own_args)
                _refresh_expired(session, value)
                result = (value, self.normalizer(value))
                failed = False
            except Exception as exc:
                if _is_control_flow(exc):
                    raise
                result = (Raised.of(exc), None)
        finally:
            statements = self._stop_recording(token)
            session.close()
            if call_tx.is_active:
                if failed:
                    call_tx.rollback()
                else:
                    call_tx.commit()
            if trial is not None and trial.is_active:
                trial.rollback()
            if failed or not committed or discard:
                side.restore_sequences(before)
        return result[0], result[1], statements

    def _simplify(self, fn: Callable[..., Any], result: PairedResult, kind: str, ordered: bool) -> PairedResult:
        """Look for a simpler call that still diverges the same way (Hypothesis's final example only).

        Hypothesis's shrinker changes one thing at a time, so it can stop at
        ``['aa', 'Å']`` when only two changes together reach ``['a', 'A']``.
        This tries single and then paired simplifications of the arguments
        (drop an item, drop a character, replace a character by a plainer one,
        move a number toward zero), each call in a savepoint that is rolled
        back. Bounded to ``SIMPLIFY_ATTEMPTS`` calls and ``SIMPLIFY_SECONDS``.
        """
        deadline = time.monotonic() + SIMPLIFY_SECONDS
        attempts = 0
        best = result

        def still_diverges(args: tuple) -> PairedResult | None:
            nonlocal attempts
            attempts += 1
            trial = self._run_both(fn, args, discard=True)
            return trial if trial.difference(ordered=ordered) == kind else None

        def exhausted() -> bool:
            return attempts >= SIMPLIFY_ATTEMPTS or time.monotonic() > deadline

        try:
            while not exhausted():
                found = None
                singles = list(_simpler_args(best.args))
                for candidate in itertools.chain(singles, _pairs(singles)):
                    if exhausted():
                        break
                    found = still_diverges(candidate)
                    if found is not None:
                        break
                if found is None:
                    break
                best = found
        except Exception:  # simplifying is a courtesy: never lose the real failure over it
            return best
        return best

    def _run_both(self, fn: Callable[..., Any], args: tuple, discard: bool = False) -> PairedResult:
        values: dict[str, Any] = {}
        normalized: dict[str, Any] = {}
        statements: dict[str, list[dict[str, Any]]] = {}
        for name in ENGINES:
            values[name], normalized[name], statements[name] = self._call(name, fn, args, discard)
        return PairedResult(
            call=describe_call(fn, args),
            args=args,
            values=values,
            normalized=normalized,
            statements=statements,
            example=self.examples if self._in_example else None,
            hypothesis=self._in_example and not self._explicit_example,
        )

    def _stop_recording(self, token: Any) -> list[dict[str, Any]]:
        if token is None:
            return []
        try:
            return list(self._recorder.stop(token))
        except Exception:  # statements are evidence only; never fail the test over them
            return []

    def _normalize_safely(self, value: Any) -> Any:
        try:
            return self.normalizer(value)
        except Exception:
            return {"$repr": repr(value)[:200]}

    def _enter_hypothesis_example(self) -> None:
        if self._in_example:
            return
        try:
            from hypothesis.control import cleanup, currently_in_test_context
        except ImportError:  # pragma: no cover - hypothesis is a dependency
            return
        if not currently_in_test_context():
            return
        self._begin_example(explicit=False)
        cleanup(self._end_example)

    def _begin_example(self, explicit: bool) -> None:
        for side in self._sides.values():
            side.begin_example()
        self._in_example = True
        self._explicit_example = explicit
        self.examples += 1

    def _end_example(self) -> None:
        if not self._in_example:
            return
        self._in_example = False
        self._explicit_example = False
        problems = []
        for side in self._sides.values():
            try:
                side.end_example()
            except Exception as exc:
                problems.append(exc)
        if problems:
            raise problems[0]


class _Side:
    """One engine's connection: outer transaction, example savepoint, sequence restore."""

    def __init__(self, name: str, engine: Engine):
        self.name = name
        self.engine = engine
        self.conn: Connection | None = None
        self.outer = None
        self.example_tx = None
        self.sequences: dict[str, Any] | None = None

    def connection(self) -> Connection:
        if self.conn is None:
            conn = self.engine.connect()
            conn.info.pop(_TRACKER_KEY, None)  # savepoints here belong to no session
            if self.name == "postgresql":
                from dualdb.engines.postgres import reset_sequences

                reset_sequences(conn)
                conn.commit()
            self.outer = conn.begin()
            self.conn = conn
        return self.conn

    def begin_example(self) -> None:
        conn = self.connection()
        self.sequences = self.sequence_snapshot()
        self.example_tx = conn.begin_nested()

    def end_example(self) -> None:
        tx, self.example_tx = self.example_tx, None
        if tx is not None and tx.is_active:
            tx.rollback()
        self.restore_sequences(self.sequences)
        self.sequences = None

    def mark(self) -> tuple[Any, dict[str, Any] | None]:
        """A savepoint (and sequence positions) to come back to."""
        conn = self.connection()
        sequences = self.sequence_snapshot()
        return conn.begin_nested(), sequences

    def settle(self, mark: tuple[Any, dict[str, Any] | None], rewind: bool) -> None:
        """Keep what happened since ``mark``, or undo it (``rewind``)."""
        tx, sequences = mark
        if not tx.is_active:
            return
        if rewind:
            tx.rollback()
            self.restore_sequences(sequences)
        else:
            tx.commit()

    def sequence_snapshot(self) -> dict[str, Any] | None:
        """PostgreSQL's sequence positions (SQLite's ids roll back by themselves)."""
        if self.name != "postgresql" or self.conn is None:
            return None
        return _sequence_values(self.conn)

    def restore_sequences(self, before: dict[str, Any] | None) -> None:
        if before is not None and self.conn is not None:
            _restore_sequences(self.conn, before)

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            if self.outer is not None and self.outer.is_active:
                self.outer.rollback()
            elif conn.in_transaction():
                conn.rollback()
        finally:
            self.outer = None
            conn.close()


class RunStateRecorder:
    """Records one paired call's statements on one engine through the plugin's captures.

    Each call gets a fresh leg recorder, so the report shows exactly what the
    divergent call executed, not the hundreds of examples before it.
    """

    def __init__(self, state: Any, backends: Mapping[str, Any]):
        self.state = state
        self.dialects = {name: _engine_of(b).dialect for name, b in backends.items()}

    def start(self, name: str) -> Any:
        capture = self.state.captures.get(name)
        if capture is None or capture.leg is not None:
            return None  # not capturing, or a db_session leg of this test is (it keeps its capture)
        leg = self.state.new_leg(name)
        bind = getattr(leg, "bind", None)
        if bind is not None:
            bind(self.dialects[name])
        self.state.start_capture(leg)
        return leg

    def stop(self, leg: Any) -> list[dict[str, Any]]:
        if leg is None:
            return []
        self.state.stop_capture(leg)
        finish = getattr(leg, "finish", None)
        if finish is not None:
            finish()
        return leg.statement_dicts()


def _engine_of(backend: Any) -> Engine:
    engine = getattr(backend, "engine", backend)
    if not isinstance(engine, Engine):
        raise TypeError(f"expected a Backend or an Engine, got {type(backend).__name__}")
    return engine


def _sequence_values(conn: Connection) -> dict[str, Any]:
    return dict(conn.exec_driver_sql(_SEQUENCES_SQL).fetchall())


def _restore_sequences(conn: Connection, before: dict[str, Any]) -> None:
    """Put back every sequence an example advanced (sequences ignore ROLLBACK)."""
    for name, value in _sequence_values(conn).items():
        if name in before and before[name] != value:
            if before[name] is None:
                conn.exec_driver_sql(_UNUSED_SQL, {"name": name, "key": name})
            else:
                conn.exec_driver_sql(_SETVAL_SQL, {"name": name, "value": before[name]})


# -- helpers ------------------------------------------------------------------------------


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


def _refresh_expired(session: Session, value: Any, _depth: int = 0) -> None:
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
            _refresh_expired(session, item, _depth + 1)
    elif isinstance(value, dict):
        for item in list(value.values())[:100]:
            _refresh_expired(session, item, _depth + 1)


def _is_control_flow(exc: BaseException) -> bool:
    """Hypothesis's own exceptions (``assume()``, stop signals) must pass through untouched."""
    return type(exc).__module__.startswith("hypothesis")


def _find_divergence_error(exc: BaseException | None) -> DivergenceError | None:
    if exc is None:
        return None
    if isinstance(exc, DivergenceError):
        return exc
    for inner in getattr(exc, "exceptions", ()) or ():  # Hypothesis reports several bugs as a group
        found = _find_divergence_error(inner)
        if found is not None:
            return found
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc and isinstance(cause, DivergenceError):
        return cause
    return None


HYPOTHESIS_EXAMPLE_NOTES = ("Falsifying example", "Failing test case")


def _falsifying_example(exc: BaseException | None) -> str | None:
    """Hypothesis's note naming the failing example, if any.

    ``Falsifying example: test_x(...)`` before Hypothesis 6.16x, ``Failing test case: ...`` since.
    """
    found = _find_divergence_error(exc) or exc
    for candidate in (found, exc):
        for note in getattr(candidate, "__notes__", ()) or ():
            if str(note).startswith(HYPOTHESIS_EXAMPLE_NOTES):
                return str(note)
    return None


def _relevant_statement(statements: list[dict[str, Any]], raised: bool) -> dict[str, Any] | None:
    """The statement a reader should look at: the one that raised, else the last that returned rows."""
    if not statements:
        return None
    if raised:
        for stmt in reversed(statements):
            if stmt.get("error"):
                return stmt
    for stmt in reversed(statements):
        if stmt.get("rows") is not None and (stmt.get("sql") or "").lstrip().upper().startswith(("SELECT", "WITH")):
            return stmt
    for stmt in reversed(statements):
        if stmt.get("rows") is not None:
            return stmt
    return statements[-1]


def describe_call(fn: Callable[..., Any], args: tuple) -> str:
    """``names_in_order(['a', 'A'])``: the call as a reader would type it (long reprs clipped)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    parts = [_clip(_safe_repr(a)) for a in args]
    return f"{name}({', '.join(parts)})"


def _safe_repr(value: Any) -> str:
    state = getattr(value, "_sa_instance_state", None)
    if state is not None and hasattr(state, "mapper"):
        fields = ", ".join(
            f"{a.key}={state.dict[a.key]!r}"
            for a in state.mapper.column_attrs
            if state.dict.get(a.key) is not None
        )
        return f"{type(value).__name__}({fields})"
    if isinstance(value, list) and value and all(getattr(v, "_sa_instance_state", None) is not None for v in value):
        return "[" + ", ".join(_safe_repr(v) for v in value) + "]"
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _clip(text: str, limit: int = REPR_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."



def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _as_multiset(value: Any) -> Any:
    return sorted(value, key=canonical_text) if isinstance(value, list) else value


# -- simplifying a divergent call ---------------------------------------------------------

_PLAIN = "aAbB"


def _final_hypothesis_example() -> bool:
    """True while Hypothesis replays the example it will report (after shrinking)."""
    try:
        from hypothesis.control import current_build_context, currently_in_test_context

        return currently_in_test_context() and bool(getattr(current_build_context(), "is_final", False))
    except Exception:
        return False


def _simpler_args(args: tuple) -> Iterator[tuple]:
    for i, arg in enumerate(args):
        for simpler in _simpler(arg):
            yield args[:i] + (simpler,) + args[i + 1 :]


def _pairs(singles: list[tuple]) -> Iterator[tuple]:
    """Two changes at once: the j-th simplification of the i-th single one, small i + j first."""
    subs: dict[int, list[tuple]] = {}
    for total in range(2 * len(singles) + 8):
        for i in range(min(total, len(singles) - 1), -1, -1):
            if i not in subs:
                subs[i] = list(_simpler_args(singles[i]))
            j = total - i
            if j < len(subs[i]):
                yield subs[i][j]


def _simpler(value: Any, depth: int = 0) -> Iterator[Any]:
    """Strictly simpler variants of a value, one change each, most drastic first."""
    if depth > 4:
        return
    state = getattr(value, "_sa_instance_state", None)
    if state is not None:
        if hasattr(state, "mapper") and state.key is None and state.session_id is None:
            for attr in state.mapper.column_attrs:  # a generated row: simplify one column at a time
                if attr.key in state.dict:
                    for simpler in _simpler(state.dict[attr.key], depth + 1):
                        clone = fresh_copy(value)
                        setattr(clone, attr.key, simpler)
                        yield clone
        return
    if isinstance(value, bool) or value is None:
        if value is True:
            yield False
        return
    if isinstance(value, str):
        for i in range(len(value)):
            yield value[:i] + value[i + 1 :]
        for i, ch in enumerate(value):
            for plain in _plainer_chars(ch):
                yield value[:i] + plain + value[i + 1 :]
        return
    if isinstance(value, int):
        if value != 0:
            yield 0
            if abs(value) > 1:
                yield value // 2 if value > 0 else -(-value // 2)
        return
    if isinstance(value, float):
        if value != 0 and value == value:
            yield 0.0
            if value != int(value) and abs(value) < 2**53:
                yield float(int(value))
        return
    if isinstance(value, Decimal):
        if value.is_finite() and value != 0:
            yield Decimal(0)
            if value != value.to_integral_value():
                yield value.to_integral_value()
        return
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        items = list(value)
        for i in range(len(items)):
            yield type(value)(items[:i] + items[i + 1 :])
        for i, item in enumerate(items):
            for simpler in _simpler(item, depth + 1):
                yield type(value)(items[:i] + [simpler] + items[i + 1 :])
        return
    if isinstance(value, dict):
        keys = list(value)
        for key in keys:
            yield {k: v for k, v in value.items() if k != key}
        for key in keys:
            for simpler in _simpler(value[key], depth + 1):
                yield {k: (simpler if k == key else v) for k, v in value.items()}


def _plainer_chars(ch: str) -> list[str]:
    """Characters a reader finds plainer than ``ch``: its base letter, then ``a A b B``.

    "Plainer" is a strict order (``a`` < ``A`` < ``b`` < ``B`` < everything else
    by code point), so simplifying always ends.
    """
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    out = []
    for candidate in (base, base.lower(), base.upper(), *_PLAIN):
        if len(candidate) == 1 and _plainness(candidate) < _plainness(ch) and candidate not in out:
            out.append(candidate)
    return out


def _plainness(ch: str) -> int:
    index = _PLAIN.find(ch)
    return index if index >= 0 else len(_PLAIN) + ord(ch)


# -- side-by-side rendering ----------------------------------------------------------------


class _Text(str):
    """A line shown verbatim (not JSON-quoted) in the side-by-side diff."""


def _pretty(value: Any) -> list[str]:
    if isinstance(value, _Text):
        return [str(value)]
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return [_visible(line) for line in text.splitlines()]


def _visible(text: str) -> str:
    """Escape what a terminal would hide: combining marks, odd spaces, controls."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch != " " and (category in ("Mn", "Me", "Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn")):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def side_by_side(left: Any, right: Any, headers: tuple[str, str] = ENGINES, width: int = DIFF_WIDTH) -> str:
    """Two normalised values as aligned columns; differing lines are marked with ``!``."""
    la, lb = _pretty(left), _pretty(right)
    rows: list[tuple[str, str, str]] = []
    matcher = difflib.SequenceMatcher(a=la, b=lb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend((" ", la[i1 + k], lb[j1 + k]) for k in range(i2 - i1))
            continue
        a_part, b_part = la[i1:i2], lb[j1:j2]
        for k in range(max(len(a_part), len(b_part))):
            rows.append(("!", a_part[k] if k < len(a_part) else "", b_part[k] if k < len(b_part) else ""))
    col = min(width, max([len(headers[0])] + [len(r[1]) for r in rows]))
    lines = [f"    {headers[0]:<{col}} | {headers[1]}", f"    {'-' * col}-+-{'-' * max(len(headers[1]), 10)}"]
    for mark, a, b in rows:
        a_shown = a if len(a) <= col else a[: col - 1] + "…"
        lines.append(f"  {mark} {a_shown:<{col}} | {b}")
    return "\n".join(lines)
