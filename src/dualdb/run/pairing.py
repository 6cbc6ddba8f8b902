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


def pair_units(nodeids: list[str], workers: int) -> dict[str, str]:
    """Map each node id to its unit: whole tests (both legs), in order, within one module."""
    bases = {nodeid: base_nodeid(nodeid) for nodeid in nodeids}
    per_module: dict[str, dict[str, int]] = {}
    for base in bases.values():
        tests = per_module.setdefault(base.split("::", 1)[0], {})
        tests.setdefault(base, len(tests))
    total = sum(len(tests) for tests in per_module.values())
    size = max(1, min(MAX_TESTS_PER_UNIT, math.ceil(total / (max(workers, 1) * UNITS_PER_WORKER))))
    units = {}
    for nodeid, base in bases.items():
        module = base.split("::", 1)[0]
        units[nodeid] = f"{module}::<dualdb unit {per_module[module][base] // size}>"
    return units


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
