"""Scheduling both legs of a test on one xdist worker, and pairing them there (pure parts)."""

from __future__ import annotations

from dualdb.ids import base_nodeid
from dualdb.records import LegPayload
from dualdb.run.pairing import WorkerLegs, pair_units


def legs(module: str, count: int) -> list[str]:
    """Node ids in pytest's order for a session-scoped backend parameter: SQLite legs first."""
    return [f"{module}::test_x[{i}-{b}]" for b in ("sqlite", "postgresql") for i in range(count)]


def test_base_nodeid_strips_only_the_backend():
    assert base_nodeid("t.py::test_x[3-sqlite]") == "t.py::test_x[3]"
    assert base_nodeid("t.py::test_x[postgresql]") == "t.py::test_x"
    assert base_nodeid("t.py::test_plain") == "t.py::test_plain"
    assert base_nodeid("t.py::test_y[a-b]") == "t.py::test_y[a-b]"
    # the backend's id is the rightmost; a parameter id may name an engine too
    assert base_nodeid("t.py::test_x[sqlite-postgresql]") == "t.py::test_x[sqlite]"
    assert base_nodeid("t.py::test_x[sqlite-postgresql]", "postgresql") == "t.py::test_x[sqlite]"
    assert base_nodeid("t.py::test_x[my-sqlite-sqlite]", "sqlite") == "t.py::test_x[my-sqlite]"
    assert base_nodeid("t.py::Test::test_x[1-postgresql]", "postgresql") == "t.py::Test::test_x[1]"
    assert base_nodeid("d[1]/t.py::test_x[1-sqlite]") == "d[1]/t.py::test_x[1]"  # brackets in the path
    assert base_nodeid("t.py::test_x[1-]", "") == "t.py::test_x[1-]"  # empty ids aren't a backend


def test_both_legs_share_a_unit_and_units_stay_in_one_module():
    nodeids = legs("a.py", 40) + legs("b.py", 3) + ["c.py::test_plain"]
    units = pair_units(nodeids, workers=2)
    for i in range(40):
        assert units[f"a.py::test_x[{i}-sqlite]"] == units[f"a.py::test_x[{i}-postgresql]"]
    assert {units[n] for n in legs("a.py", 40)}.isdisjoint({units[n] for n in legs("b.py", 3)})
    assert units["c.py::test_plain"].startswith("c.py::")


def test_units_are_small_enough_to_balance_the_workers():
    units = pair_units(legs("a.py", 500), workers=2)
    sizes: dict[str, int] = {}
    for unit in units.values():
        sizes[unit] = sizes.get(unit, 0) + 1
    assert len(sizes) >= 2 * 16  # enough units that the last ones even out the workers
    assert max(sizes.values()) <= 2 * 25


def leg(nodeid: str, backend: str, rows: list) -> LegPayload:
    statement = {"sql": "SELECT name FROM t", "params": None, "rows": rows, "rowcount": len(rows)}
    return LegPayload.from_dict({"nodeid": nodeid, "backend": backend, "outcome": "passed", "statements": [statement]})


def test_a_pair_that_agrees_travels_without_its_evidence():
    held = WorkerLegs()
    assert held.add(leg("t.py::test_a", "sqlite", [["x"]])) == []
    pair = held.add(leg("t.py::test_a", "postgresql", [["x"]]))
    assert [p.backend for p in pair] == ["sqlite", "postgresql"]
    assert all(p.statements == [] and p.compared for p in pair)
    assert held.flush() == []


def test_a_pair_that_differs_keeps_its_evidence_and_lone_legs_wait_for_the_flush():
    held = WorkerLegs()
    held.add(leg("t.py::test_a", "sqlite", [["x"]]))
    held.add(leg("t.py::test_b", "postgresql", [["y"]]))
    pair = held.add(leg("t.py::test_a", "postgresql", [["X"]]))
    assert all(p.statements for p in pair)
    assert [p.nodeid for p in held.flush()] == ["t.py::test_b"]
