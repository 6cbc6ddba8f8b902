"""Keep the two legs of a test together under pytest-xdist.

Without help, xdist's ``load`` distribution sends ``test_x[sqlite]`` and
``test_x[postgresql]`` to whichever worker is free, so every leg's captured
statements travel to the controller, which compares them there: one process
doing work the workers could share. Here:

* ``PairUnits`` cuts the collection into units of whole tests (both legs, a
  few tests per unit, never across modules); ``make_scheduler`` hands them to
  a subclass of xdist's ``LoadScopeScheduling``, so a unit runs on one worker.
  Within a unit the legs keep pytest's order (SQLite legs, then PostgreSQL
  legs), so the session-scoped ``dualdb_backend`` switches twice per unit.
* ``serial_order`` does the same for a serial run, where pytest's ordering
  of the session-scoped ``dualdb_backend`` would run every SQLite leg of the
  session before the first PostgreSQL leg, each waiting with its captured
  statements for its sibling: units of ``SERIAL_TESTS_PER_UNIT`` tests in run
  order, each unit's SQLite legs, then its PostgreSQL legs.
* ``WorkerLegs`` holds a leg on the worker until its sibling finishes there,
  compares the pair, drops the evidence of a pair that agrees, and attaches
  both legs to the second leg's report. A leg whose sibling ran elsewhere
  (``--dist worksteal``, a crash, ``-k`` selecting one leg) is sent at the
  end of the worker's session through ``workeroutput``; the controller pairs
  it like any other.
"""

from __future__ import annotations

import math
from typing import Any

from dualdb.records import LegPayload

from dualdb.ids import base_nodeid  # the controller has node ids only, no items saying the backend

UNITS_PER_WORKER = 16  # enough units for the last ones to balance the workers
MAX_TESTS_PER_UNIT = 25
# a serial run: few enough switches of the session-scoped backend (each re-creates the session
# fixtures depending on it), few enough legs waiting for their siblings (about 5-20 KB each)
SERIAL_TESTS_PER_UNIT = 200


def pair_units(nodeids: list[str], workers: int, size: int | None = None, by_module: bool = True) -> dict[str, str]:
    """Map each node id to its unit: whole tests (both legs), in order, within one module.

    ``size`` tests per unit (default: enough units for ``workers`` to balance, at most
    ``MAX_TESTS_PER_UNIT``); ``by_module=False`` cuts the run order itself, so small
    modules share a unit.
    """
    bases = {nodeid: base_nodeid(nodeid) for nodeid in nodeids}
    per_module: dict[str, dict[str, int]] = {}
    for base in bases.values():
        tests = per_module.setdefault(base.split("::", 1)[0] if by_module else "", {})
        tests.setdefault(base, len(tests))
    if size is None:
        total = sum(len(tests) for tests in per_module.values())
        size = min(MAX_TESTS_PER_UNIT, math.ceil(total / (max(workers, 1) * UNITS_PER_WORKER)))
    size = max(1, size)
    units = {}
    for nodeid, base in bases.items():
        module = base.split("::", 1)[0] if by_module else ""
        units[nodeid] = f"{module}::<dualdb unit {per_module[module][base] // size}>"
    return units


def serial_order(legs: list[tuple[str, str] | None], size: int | None = None) -> list[int]:
    """The positions of a serial run's items in the order to run them.

    ``legs[i]`` is item ``i``'s (node id, backend), or ``None`` for an item that is
    no leg. pytest runs all SQLite legs, then all PostgreSQL legs (the backend is a
    session-scoped parameter); here the tests are cut into units of ``size`` whole
    tests (default ``SERIAL_TESTS_PER_UNIT``) in that order (``pair_units``, across modules) and each unit runs its SQLite
    legs, then its PostgreSQL legs (the first leg of each test, then the second), so a
    pair is compared, and its statements freed, within a unit. The first legs and the
    other items keep their order, the second legs theirs, and an item that ran after
    a second leg still does: a run of up to ``size`` tests keeps pytest's order.
    """
    by_test: dict[str, dict[str, int]] = {}
    for position, leg in enumerate(legs):
        if leg is not None:
            by_test.setdefault(base_nodeid(leg[0], leg[1]), {})[leg[1]] = position
    paired = {min(pair.values()): max(pair.values()) for pair in by_test.values() if len(pair) == 2}
    seconds = set(paired.values())
    units = pair_units([legs[p][0] for p in paired], 1, size=size or SERIAL_TESTS_PER_UNIT, by_module=False)
    order: list[int] = []
    waiting: list[int] = []  # the PostgreSQL legs of the unit under way
    unit = None
    for position, leg in enumerate(legs):
        if position in seconds:
            continue  # runs with its unit
        if position in paired:
            if units[leg[0]] != unit:
                order.extend(sorted(waiting))
                waiting, unit = [], units[leg[0]]
            waiting.append(paired[position])
        elif waiting and position > min(waiting):  # it ran after a waiting leg: still does
            waiting.sort()
            before = [w for w in waiting if w < position]
            order.extend(before)
            waiting = waiting[len(before):]
        order.append(position)
    order.extend(sorted(waiting))
    return order


def make_scheduler(config: Any, log: Any) -> Any:
    """xdist's ``LoadScopeScheduling`` with ``pair_units`` as its scopes."""
    from xdist.scheduler import LoadScopeScheduling

    class LegPairScheduling(LoadScopeScheduling):
        """``--dist load`` for a ``--dual-db`` run: both legs of a test on one worker."""

        def __init__(self, config: Any, log: Any = None) -> None:
            super().__init__(config, log)
            self._units: dict[str, str] = {}
            self._positions: dict[Any, dict[str, int]] = {}

        def schedule(self) -> None:
            if self.collection is None and self.registered_collections:
                collection = next(iter(self.registered_collections.values()))
                self._units = pair_units(list(collection), len(self.nodes))
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return self._units.get(nodeid) or nodeid

        def _assign_work_unit(self, node: Any) -> None:
            # xdist looks each node id up with list.index: quadratic on a large suite
            scope, work_unit = self.workqueue.popitem(last=False)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            positions = self._positions.get(node)
            if positions is None:
                positions = {nodeid: i for i, nodeid in enumerate(self.registered_collections[node])}
                self._positions[node] = positions
            node.send_runtest_some([positions[nodeid] for nodeid, done in work_unit.items() if not done])

    return LegPairScheduling(config, log)


class WorkerLegs:
    """The legs an xdist worker finished whose sibling has not finished here yet."""

    def __init__(self) -> None:
        self.waiting: dict[str, LegPayload] = {}
        self.diverged: list[str] = []  # pairs completed here that diverged: re-run here at the end

    def add(self, leg: LegPayload) -> list[LegPayload]:
        """The legs to send with this leg's report: none yet, or the finished pair."""
        sibling = self.waiting.pop(leg.nodeid, None)
        if sibling is None or sibling.backend == leg.backend:
            if sibling is not None:  # the same leg twice (a rerun plugin): send the older now
                self.waiting[leg.nodeid] = leg
                return [sibling]
            self.waiting[leg.nodeid] = leg
            return []
        from dualdb.run.state import drop_evidence_if_same

        pair = {sibling.backend: sibling, leg.backend: leg}
        verdict = drop_evidence_if_same(leg.nodeid, pair)
        if verdict == "diverged" and not any(p.known for p in pair.values()):
            self.diverged.append(leg.nodeid)
        return [sibling, leg]

    def flush(self) -> list[LegPayload]:
        """Everything still waiting (its sibling ran on another worker, or not at all)."""
        legs = list(self.waiting.values())
        self.waiting.clear()
        return legs
