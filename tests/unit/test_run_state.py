"""What the run state keeps of a test's legs once they are paired (no database: legs built by hand).

A long run is mostly agreeing pairs; they must cost little (one shared record
for a pair with nothing to show) without losing anything a report shows.
"""

from __future__ import annotations

import json

import pytest

from dualdb.config import Settings
from dualdb.records import ErrorRecord, LegPayload, Observation
from dualdb.report.build import build_report
from dualdb.run.state import RunState


@pytest.fixture
def state() -> RunState:
    return RunState(Settings(dual=True))


def record_pair(state: RunState, nodeid: str, **fields) -> None:
    for backend in ("sqlite", "postgresql"):
        state.record_leg(nodeid, backend, LegPayload(nodeid=nodeid, backend=backend, **fields))


def record_pg_failure(state: RunState, nodeid: str, error: ErrorRecord) -> None:
    """A pair whose SQLite leg passed and whose PostgreSQL leg failed with ``error``."""
    state.record_leg(nodeid, "sqlite", LegPayload(nodeid=nodeid, backend="sqlite"))
    state.record_leg(nodeid, "postgresql", LegPayload(nodeid=nodeid, backend="postgresql", outcome="failed", error=error))


def test_agreeing_pairs_with_nothing_to_show_share_one_record(state):
    record_pair(state, "t.py::test_a")
    record_pair(state, "t.py::test_b")
    record_pair(state, "t.py::test_skipped", outcome="skipped")
    assert state.legs["t.py::test_a"] is state.legs["t.py::test_b"]
    assert state.legs["t.py::test_skipped"] is not state.legs["t.py::test_a"]
    assert state.legs["t.py::test_skipped"]["postgresql"].outcome == "skipped"
    with pytest.raises(TypeError):
        state.legs["t.py::test_a"]["sqlite"] = LegPayload(nodeid="x", backend="sqlite")  # read-only
    report = build_report(state.legs, {}, [])
    assert [(t.nodeid, t.verdict) for t in report.tests] == [
        ("t.py::test_a", "same"), ("t.py::test_b", "same"), ("t.py::test_skipped", "skipped"),
    ]
    assert {leg.outcome for leg in report.tests[2].legs.values()} == {"skipped"}


def test_a_pair_with_something_to_show_keeps_its_own_legs(state):
    seen = [Observation(label="count", value=2)]
    record_pair(state, "t.py::test_observed", observations=seen, notes=["freezegun froze the clock"])
    record_pair(state, "t.py::test_plain")
    legs = state.legs["t.py::test_observed"]
    assert legs is not state.legs["t.py::test_plain"]
    assert legs["sqlite"].nodeid == "t.py::test_observed"
    entry = build_report(state.legs, {}, [])
    shown = json.loads(json.dumps(entry.to_dict()))["tests"][0]
    assert shown["verdict"] == "same"
    assert shown["legs"]["postgresql"]["observations"] == [{"label": "count", "value": 2}]
    assert shown["legs"]["sqlite"]["notes"] == ["freezegun froze the clock"]


def test_diverging_pairs_keep_their_evidence(state):
    record_pg_failure(state, "t.py::test_d",
                      ErrorRecord("IntegrityError", 'null value in column "name" violates not-null constraint'))
    assert state.diverged_tests() == ["t.py::test_d"]
    [entry] = build_report(state.legs, {}, []).tests
    assert entry.verdict == "diverged"
    assert entry.legs["postgresql"].error.type == "IntegrityError"


def test_a_leg_run_again_replaces_that_leg_and_the_pair_is_compared_again(state):
    """pytest-rerunfailures runs a failed item again: a third leg arrives for a paired test."""
    record_pg_failure(state, "t.py::test_flaky", ErrorRecord("AssertionError", "assert 1 == 2"))
    assert state.diverged_tests() == ["t.py::test_flaky"]
    state.record_leg("t.py::test_flaky", "postgresql", LegPayload(nodeid="t.py::test_flaky", backend="postgresql"))
    assert state.diverged_tests() == []
    record_pair(state, "t.py::test_other")
    assert state.legs["t.py::test_flaky"] is state.legs["t.py::test_other"]
    record_pair(state, "t.py::test_other")  # and once more, over the shared record
    assert [t.verdict for t in build_report(state.legs, {}, []).tests] == ["same", "same"]
