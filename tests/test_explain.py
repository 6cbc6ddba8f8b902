"""The knowledge base: its rules are well-formed, ordered sensibly and never break a report.

Every rule is exercised by a real SQLite/PostgreSQL divergence in
``test_divergences.py`` (and ``test_every_rule_is_exercised_by_a_real_divergence``
checks none is left out); here are the properties of the rule set itself.
"""

from __future__ import annotations

import pytest

from dualdb.explain import RULES, explain_entry
from dualdb.explain.facts import facts_of, linguistic_key
from dualdb.report.build import build_entry
from dualdb.report.model import CATEGORIES


def test_at_least_thirty_well_formed_rules():
    assert len(RULES) >= 30
    assert len({r.name for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.category in CATEGORIES and r.category != "other", r.name
        assert r.title and not r.title.endswith(".")
        assert len(r.why) > 40 and len(r.fix) > 30, r.name


def test_the_rules_cover_the_categories():
    assert {r.category for r in RULES} >= set(CATEGORIES) - {"other"}


def test_most_fixes_name_a_portable_sqlalchemy_construct():
    constructs = ("(", "`")
    assert sum(any(c in r.fix for c in constructs) for r in RULES) >= len(RULES) * 0.8


def leg(outcome="passed", error=None, statements=(), observations=()):
    return {
        "outcome": outcome,
        "error": error,
        "statements": list(statements),
        "observations": list(observations),
        "harness_notes": [],
        "started": "2026-01-01T12:00:00+00:00",
    }


def stmt(sql, rows=None, error=None, params=None, **extra):
    out = {"sql": sql, "params": params, "rows": rows, "error": error}
    out.update(extra)
    return out


def test_an_aborted_transaction_explains_the_errors_that_follow():
    unique = {"type": "UniqueViolation", "message": "duplicate key value violates unique constraint", "code": "23505"}
    aborted = {"type": "InFailedSqlTransaction", "message": "current transaction is aborted, commands ignored "
               "until end of transaction block", "code": "25P02"}
    entry = build_entry("t.py::test_x", {
        "sqlite": leg(statements=[stmt("INSERT INTO u (e) VALUES (?)", params=["a"])]),
        "postgresql": leg("failed", {"type": "InFailedSqlTransaction", "message": aborted["message"]}, [
            stmt("INSERT INTO u (e) VALUES (%(e)s)", params=["a"], error=unique),
            stmt("SELECT count(*) FROM u", error=aborted),
        ]),
    })
    assert (entry.verdict, entry.category, entry.explanation.rule) == ("diverged", "transactions", "aborted-transaction")


def test_collation_order_is_told_from_nulls_moving_to_the_other_end():
    def entry(a, b):
        return build_entry("t.py::test_x", {
            "sqlite": leg(statements=[stmt("SELECT t.name FROM t ORDER BY t.name", rows=a, order_keys=[0])]),
            "postgresql": leg(statements=[stmt("SELECT t.name FROM t ORDER BY t.name", rows=b, order_keys=[0])]),
        })

    collation = entry([["Bob"], ["alice"]], [["alice"], ["Bob"]])
    assert collation.explanation.rule == "order-by-text-collation"
    nulls = build_entry("t.py::test_x", {
        "sqlite": leg(statements=[stmt("SELECT t.title FROM t ORDER BY t.due", rows=[["x"], ["a"], ["b"]], ordered=True)]),
        "postgresql": leg(statements=[stmt("SELECT t.title FROM t ORDER BY t.due", rows=[["a"], ["b"], ["x"]],
                                           ordered=True)]),
    })
    assert nulls.explanation.rule == "nulls-order" and nulls.category == "nulls"


def test_known_marker_category_overrides_the_rule():
    legs = {
        "sqlite": leg(statements=[stmt("SELECT t.name FROM t ORDER BY t.name", rows=[["B"], ["a"]], order_keys=[0])]),
        "postgresql": leg(statements=[stmt("SELECT t.name FROM t ORDER BY t.name", rows=[["a"], ["B"]],
                                           order_keys=[0])]),
    }
    legs["sqlite"]["known"] = {"reason": "accepted", "category": "other"}
    entry = build_entry("t.py::test_x", legs)
    assert (entry.verdict, entry.category, entry.explanation.rule) == ("known", "other", "order-by-text-collation")


def test_unexplained_divergence_is_other():
    entry = build_entry("t.py::test_x", {
        "sqlite": leg(observations=[{"label": "x", "value": 1}]),
        "postgresql": leg(observations=[{"label": "x", "value": 2}]),
    })
    assert (entry.verdict, entry.category, entry.explanation) == ("diverged", "other", None)


@pytest.mark.parametrize(
    "first_difference",
    [None, {}, {"source": "statement", "values": None, "sql": None}, {"values": {"sqlite": object()}},
     {"source": "observation", "values": {"sqlite": [[1, [2]]], "postgresql": "x"}, "shape": "order"}],
)
def test_explaining_odd_entries_never_raises(first_difference):
    entry = {"kind": "value", "legs": {"sqlite": {"statements": [{"sql": None, "error": {}}]}},
             "first_difference": first_difference}
    explain_entry(entry)
    facts_of(entry)


def test_linguistic_key_orders_like_a_production_collation():
    assert sorted(["b", "B", "a", "A", "é", "e"], key=linguistic_key) == ["a", "A", "b", "B", "e", "é"]
