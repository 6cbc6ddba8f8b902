"""The knowledge base: its rules are well-formed, ordered sensibly and never break a report.

Every rule is exercised by a real SQLite/PostgreSQL divergence in
``test_divergences.py`` (and ``test_every_rule_is_exercised_by_a_real_divergence``
checks none is left out); here are the properties of the rule set itself.
"""

from __future__ import annotations

import pytest

from dualdb.explain import RULES, explain_entry
from dualdb.explain.facts import facts_of, libc_linguistic_key, linguistic_key
from dualdb.records import CapturedStatement, Difference, Known, LegPayload
from dualdb.report.build import build_entry
from dualdb.report.model import CATEGORIES, Leg, TestEntry


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
    """A leg written as plain data (the shape an xdist worker sends), read into its record."""
    return LegPayload.from_dict({
        "nodeid": "t.py::test_x",
        "backend": "",
        "outcome": outcome,
        "error": error,
        "statements": list(statements),
        "observations": list(observations),
        "harness_notes": [],
        "started": "2026-01-01T12:00:00+00:00",
    })


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
    legs["sqlite"].known = Known("accepted", "other")
    entry = build_entry("t.py::test_x", legs)
    assert (entry.verdict, entry.category, entry.explanation.rule) == ("known", "other", "order-by-text-collation")


def test_a_divergence_no_rule_knows_still_gets_a_concrete_explanation():
    entry = build_entry("t.py::test_x", {
        "sqlite": leg(observations=[{"label": "x", "value": 1}]),
        "postgresql": leg(observations=[{"label": "x", "value": 2}]),
    })
    assert (entry.verdict, entry.category) == ("diverged", "numeric")
    assert entry.explanation.rule == "fallback-numeric"
    assert "SQLite gave 1" in entry.explanation.why and "PostgreSQL gave 2" in entry.explanation.why
    assert entry.explanation.fix


@pytest.mark.parametrize(
    "first_difference",
    [None, {}, {"source": "statement", "values": None, "sql": None}, {"values": {"sqlite": object()}},
     {"source": "observation", "values": {"sqlite": [[1, [2]]], "postgresql": "x"}, "shape": "order"}],
)
def test_explaining_odd_entries_never_raises(first_difference):
    entry = TestEntry("t.py::test_x", "diverged", kind="value",
                      legs={"sqlite": Leg(statements=[CapturedStatement.from_dict({"sql": None, "error": {}})])},
                      first_difference=Difference.from_dict(first_difference))
    explain_entry(entry)
    facts_of(entry)


def test_linguistic_key_orders_like_a_production_collation():
    assert sorted(["b", "B", "a", "A", "é", "e"], key=linguistic_key) == ["a", "A", "b", "B", "e", "é"]


def test_libc_linguistic_key_orders_like_glibc_en_us():
    """What `sort` prints under glibc 2.36's en_US.UTF-8: punctuation and spaces only break ties."""
    words = ["_draft", "beta", "Alpha", "a b", "ab", "aa", "a-c", "ac", "ab-", "École", "ecole", "Ecole", "zoo"]
    assert sorted(words, key=libc_linguistic_key) == [
        "aa", "a b", "ab", "ab-", "a-c", "ac", "Alpha", "beta", "_draft", "ecole", "Ecole", "École", "zoo"]


# ---- observations: the statement the observed value came from ---------------------------------


def _observed(label, a, b):
    return [{"label": label, "value": a}], [{"label": label, "value": b}]


def test_observed_order_is_judged_on_the_observed_column_not_on_noisy_columns():
    """Rows also differ in an aware/naive timestamp column; the observed titles show NULLs moving."""
    sql = "SELECT posts.title, posts.published_at, posts.rating FROM posts ORDER BY posts.rating DESC"
    a_rows = [["B", {"$dt": "2024-02-01T08:00:00"}, 4.5], ["A", {"$dt": "2024-01-10T09:30:00"}, 4], ["D", None, None]]
    b_rows = [["D", None, None], ["B", {"$dtz": "2024-02-01T08:00:00+00:00"}, 4.5],
              ["A", {"$dtz": "2024-01-10T09:30:00+00:00"}, 4]]
    obs_a, obs_b = _observed("titles", ["B", "A", "D"], ["D", "B", "A"])
    order_by = [["Float", True]]
    entry = build_entry("t.py::test_x", {
        "sqlite": leg(observations=obs_a, statements=[stmt(sql, rows=a_rows, ordered=True, order_by=order_by)]),
        "postgresql": leg(observations=obs_b, statements=[stmt(sql, rows=b_rows, ordered=True, order_by=order_by)]),
    })
    assert (entry.category, entry.explanation.rule) == ("nulls", "nulls-order")


def test_an_unrelated_first_difference_does_not_explain_an_observation():
    """The first differing statement is a naive/aware timestamp; the observed list came from a later,
    unordered query whose rows PostgreSQL returned in another order."""
    one = "SELECT posts.id, posts.published_at FROM posts WHERE posts.id = ?"
    many = "SELECT posts.id, posts.title FROM posts WHERE ? = posts.author_id"
    obs_a, obs_b = _observed("titles", ["A2", "B", "C"], ["B", "C", "A2"])
    entry = build_entry("t.py::test_x", {
        "sqlite": leg(observations=obs_a, statements=[
            stmt(one, rows=[[1, {"$dt": "2024-01-10T09:30:00"}]], params=[1]),
            stmt(many, rows=[[1, "A2"], [2, "B"], [3, "C"]], params=[1])]),
        "postgresql": leg(observations=obs_b, statements=[
            stmt(one, rows=[[1, {"$dtz": "2024-01-10T09:30:00+00:00"}]], params=[1]),
            stmt(many, rows=[[2, "B"], [3, "C"], [1, "A2"]], params=[1])]),
    })
    assert (entry.category, entry.explanation.rule) == ("ordering", "unordered-limit")


def test_an_observed_new_id_is_traced_to_the_insert():
    insert_a = "INSERT INTO orders (user_id) VALUES (?)"
    insert_b = "INSERT INTO orders (user_id) VALUES (%(user_id)s::INTEGER) RETURNING orders.id"
    user = "SELECT users.id, users.created_at FROM users WHERE users.id = ?"
    obs_a, obs_b = _observed("order number", 1, 2)
    entry = build_entry("t.py::test_x", {
        "sqlite": leg(observations=obs_a, statements=[
            stmt(user, rows=[[1, {"$masked": "clock", "aware": False}]], params=[1]),
            stmt(insert_a, params=[1], lastrowid=1, rowcount=1)]),
        "postgresql": leg(observations=obs_b, statements=[
            stmt(user, rows=[[1, {"$masked": "clock", "aware": True}]], params=[1]),
            stmt(insert_b, params=[1], rows=[[2]], rowcount=1)]),
    })
    assert entry.category == "sequences"


def test_collation_order_looks_at_the_order_by_key_column():
    sql = "SELECT products.id, products.sku, products.name FROM products ORDER BY products.name"
    a = [[4, "P-4", "Desk"], [2, "P-2", "Phone"], [1, "P-1", "headphones"], [3, "P-3", "iPhone"]]
    b = [[4, "P-4", "Desk"], [1, "P-1", "headphones"], [3, "P-3", "iPhone"], [2, "P-2", "Phone"]]
    entry = build_entry("t.py::test_x", {
        "sqlite": leg(statements=[stmt(sql, rows=a, ordered=True, order_keys=[2], order_by=[["String", False]])]),
        "postgresql": leg(statements=[stmt(sql, rows=b, ordered=True, order_keys=[2], order_by=[["String", False]])]),
    })
    assert (entry.category, entry.explanation.rule) == ("collation", "order-by-text-collation")


# ---- rules widened for the probe catalog ---------------------------------------------------------


def _outcome(failing, message, sql, other_sql=None, error_type="ProgrammingError"):
    """One leg fails in ``sql`` with ``message``; the other runs it fine."""
    error = {"type": error_type, "message": message}
    failed = leg("failed", error, [stmt(sql, error=error)])
    passed = leg(statements=[stmt(other_sql or sql, rows=[[1]])])
    legs = {"sqlite": failed, "postgresql": passed} if failing == "sqlite" else {"sqlite": passed, "postgresql": failed}
    return build_entry("t.py::test_x", legs)


def test_ilike_rule_is_for_raw_ilike_only():
    raw = _outcome("sqlite", 'near "ILIKE": syntax error', "SELECT name FROM users WHERE name ILIKE 'a%'")
    assert raw.explanation.rule == "ilike"
    # .ilike() renders lower() LIKE lower() on SQLite: an accented name is then missed, not a syntax error
    portable = build_entry("t.py::test_x", {
        "sqlite": leg("failed", {"type": "AssertionError", "message": "assert [] == ['Durand']"}, [
            stmt("SELECT users.last_name FROM users WHERE lower(users.first_name) LIKE lower(?)",
                 rows=[], params=["élodie"])]),
        "postgresql": leg(statements=[
            stmt("SELECT users.last_name FROM users WHERE users.first_name ILIKE %(first_name_1)s::VARCHAR",
                 rows=[["Durand"]], params=["élodie"])]),
    })
    assert (portable.category, portable.explanation.rule) == ("strings", "lower-upper-non-ascii")


@pytest.mark.parametrize("message", [
    "function json_group_array(character varying) does not exist",
    "function json_each(json, unknown) does not exist",
])
def test_sqlite_json_list_functions_are_arrays(message):
    entry = _outcome("postgresql", message, "SELECT json_group_array(tags.name) FROM tags")
    assert (entry.category, entry.explanation.rule) == ("arrays", "array-functions")


def test_json_element_functions_stay_json():
    entry = _outcome("postgresql", "function json_extract(json, unknown) does not exist",
                     "SELECT json_extract(products.attrs, '$.colour') FROM products")
    assert entry.category == "json"


def test_cast_to_date_is_a_numeric_cast_on_sqlite():
    sql = "SELECT count(*) AS count_1 FROM orders WHERE CAST(orders.created_at AS DATE) = ?"
    entry = build_entry("t.py::test_x", {
        "sqlite": leg("failed", {"type": "AssertionError", "message": "assert 0 == 1"},
                      [stmt(sql, rows=[[0]], params=[{"$date": "2024-03-01"}])]),
        "postgresql": leg(statements=[stmt(sql.replace("?", "%(param_1)s::DATE"), rows=[[1]],
                                           params=[{"$date": "2024-03-01"}])]),
    })
    assert (entry.category, entry.explanation.rule) == ("datetime", "date-format-function")


def test_subtracting_timestamps_is_date_arithmetic():
    sql = "SELECT orders.shipped_at - orders.created_at AS anon_1 FROM orders"
    entry = build_entry("t.py::test_x", {
        "sqlite": leg("failed", {"type": "TypeError", "message": "fromisoformat: argument must be str"},
                      [stmt(sql, rows=[[0]])]),
        "postgresql": leg(statements=[stmt(sql, rows=[[{"$interval": 270000}]])]),
    })
    assert (entry.category, entry.explanation.rule) == ("datetime", "date-arithmetic")


def test_children_left_behind_by_a_cascade_sqlite_skipped():
    def run(count):
        return leg(observations=[{"label": "posts left", "value": count}], statements=[
            stmt("INSERT INTO posts (author_id, title) VALUES (?, ?)", params=[1, "One"], rowcount=1),
            stmt("DELETE FROM authors WHERE authors.id = ?", params=[1], rowcount=1),
            stmt("SELECT count(*) AS count_1 FROM posts", rows=[[count]]),
        ])
    entry = build_entry("t.py::test_x", {"sqlite": run(2), "postgresql": run(0)})
    assert (entry.category, entry.explanation.rule) == ("constraints", "fk-not-enforced")
    # fewer rows on SQLite after a delete is not a skipped cascade
    reverse = build_entry("t.py::test_x", {"sqlite": run(0), "postgresql": run(2)})
    assert reverse.explanation is None or reverse.explanation.rule != "fk-not-enforced"


def test_a_read_repeated_in_a_transaction_that_changes_on_one_engine_only():
    count = "SELECT count(*) AS count_1 FROM orders"
    insert = "INSERT INTO orders (total) VALUES (?)"

    def run(second):
        return leg("failed" if second != 1 else "passed",
                   {"type": "AssertionError", "message": f"assert 1 == {second}"} if second != 1 else None,
                   [stmt(count, rows=[[1]]), stmt(insert, params=[20], rowcount=1), stmt(count, rows=[[second]])])
    entry = build_entry("t.py::test_x", {"sqlite": run(2), "postgresql": run(1)})
    assert (entry.category, entry.explanation.rule) == ("isolation", "isolation-level")


def test_a_key_sqlite_cannot_read_as_a_json_path():
    entry = build_entry("t.py::test_x", {
        "sqlite": leg("failed", {"type": "OperationalError", "message": "JSON path error near '\"'"}, [
            stmt("SELECT CAST(JSON_EXTRACT(products.attributes, ?) AS VARCHAR) AS anon_1 FROM products",
                 params=['"'], error={"type": "OperationalError", "message": "JSON path error near '\"'"})]),
        "postgresql": leg(statements=[
            stmt("SELECT CAST(products.attributes ->> %(attributes_1)s::TEXT AS VARCHAR) AS anon_1 FROM products",
                 params=['"'], rows=[[None]])]),
    })
    assert (entry.category, entry.explanation.rule) == ("json", "json-scalar-extraction")
