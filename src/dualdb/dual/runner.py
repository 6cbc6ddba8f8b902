"""The paired runner: the same code on SQLite and on PostgreSQL inside one test.

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
  into a ``DivergenceError`` that Hypothesis shrinks like any other failure
  (``dual/results.py``).
* **The reported example is as small as we can make it.** When Hypothesis
  replays its final example, ``assert_same`` keeps a savepoint to come back to
  and lets ``dual/simplify.py`` look for the simplest call that still diverges
  the same way, naming Hypothesis's original.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from dualdb.config import BACKEND_NAMES
from dualdb.dual.display import describe_call
from dualdb.dual.report_legs import report_legs
from dualdb.dual.results import PairedResult, Raised, divergence_error
from dualdb.dual.simplify import simplest
from dualdb.dual.values import fresh_copy, refresh_expired
from dualdb.engines import sequences
from dualdb.normalize import Normalizer
from dualdb.records import CapturedStatement, ErrorRecord, LegPayload

_TRACKER_KEY = "dualdb_savepoints"  # isolation.TRACKER_KEY: paired connections run untracked


class Paired:
    """Runs callables on both engines inside rolled-back transactions; see the module docstring.

    ``backends`` maps ``"sqlite"`` and ``"postgresql"`` to a ``Backend`` (or a
    plain ``Engine``). ``recorder`` (optional) records each call's statements
    for the divergence report: ``recorder.start(engine_name)`` returns a token,
    ``recorder.stop(token)`` the statements as report dicts.
    """

    def __init__(self, backends: Mapping[str, Any], *, recorder: Any = None):
        missing = [name for name in BACKEND_NAMES if name not in backends]
        if missing:
            raise ValueError(f"Paired needs both engines; missing: {', '.join(missing)}")
        self.started = dt.datetime.now(dt.timezone.utc)
        self.normalizer = Normalizer(clock_window=(self.started, self.started + dt.timedelta(hours=1)))
        self._sides = {name: _Side(name, _engine_of(backends[name])) for name in BACKEND_NAMES}
        self._recorder = recorder
        self._in_example = False
        self._explicit_example = False
        self.examples = 0  # examples (Hypothesis or explicit) that used the pair
        self.calls = 0
        self.last: PairedResult | None = None
        self.closed = False

    def __repr__(self) -> str:
        return "<dual sqlite+postgresql>"

    @classmethod
    def from_run_state(cls, state: Any, record: bool = True) -> Paired:
        """Both backends of a plugin ``RunState``, recording statements through its captures."""
        backends = {name: state.backend(name) for name in BACKEND_NAMES}
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
            raise divergence_error(result, kind, ordered, simplified_from=original)
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

    def report_legs(self, outcome: str, error: ErrorRecord | None, exception: BaseException | None) -> dict[str, LegPayload]:
        """The two legs of this test's report entry (see ``dual/report_legs.py``)."""
        return report_legs(
            outcome, error, exception, last=self.last, examples_run=self.examples, normalizer=self.normalizer
        )

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
                refresh_expired(session, value)
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
        """The simplest call that still diverges like ``result``, each try a what-if run that leaves no trace."""

        def diverges_alike(args: tuple) -> PairedResult | None:
            trial = self._run_both(fn, args, discard=True)
            return trial if trial.difference(ordered=ordered) == kind else None

        return simplest(result, diverges_alike)

    def _run_both(self, fn: Callable[..., Any], args: tuple, discard: bool = False) -> PairedResult:
        values: dict[str, Any] = {}
        normalized: dict[str, Any] = {}
        statements: dict[str, list[dict[str, Any]]] = {}
        for name in BACKEND_NAMES:
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
                sequences.reset(conn)
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
        return sequences.positions(self.conn)

    def restore_sequences(self, before: dict[str, Any] | None) -> None:
        if before is not None and self.conn is not None:
            sequences.restore(self.conn, before)

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

    def stop(self, leg: Any) -> list[CapturedStatement]:
        if leg is None:
            return []
        self.state.stop_capture(leg)
        finish = getattr(leg, "finish", None)
        if finish is not None:
            finish()
        return leg.statement_records()


def _engine_of(backend: Any) -> Engine:
    engine = getattr(backend, "engine", backend)
    if not isinstance(engine, Engine):
        raise TypeError(f"expected a Backend or an Engine, got {type(backend).__name__}")
    return engine


def _is_control_flow(exc: BaseException) -> bool:
    """Hypothesis's own exceptions (``assume()``, stop signals) must pass through untouched."""
    return type(exc).__module__.startswith("hypothesis")


def _final_hypothesis_example() -> bool:
    """True while Hypothesis replays the example it will report (after shrinking)."""
    try:
        from hypothesis.control import current_build_context, currently_in_test_context

        return currently_in_test_context() and bool(getattr(current_build_context(), "is_final", False))
    except Exception:
        return False
