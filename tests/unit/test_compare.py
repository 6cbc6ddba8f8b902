"""Two legs in, one verdict out: the rules of comparison, on captured legs (written as the
JSON shape, read into records as ``dualdb report`` reads them)."""

from __future__ import annotations

import datetime as dt

import pytest

from dualdb.compare import TIE_NOTE, LegView, align, classify, compare_legs, error_family, same_failure
from dualdb.records import CapturedStatement, Observation

START = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def leg(statements=(), observations=(), outcome="passed", error=None, started=START) -> LegView:
    etype, message = error if error else (None, None)
    return LegView(outcome, etype, message, [Observation.from_dict(o) for o in observations], records(statements), started)


def records(statements):
    return [CapturedStatement.from_dict(s) for s in statements]


def select(rows, sql="SELECT users.name FROM users", params=None, **extra):
    stmt = {"sql": sql, "params": params, "rows": rows, "error": None, "columns": ["name"]}
    stmt.update(extra)
    return stmt


def verdict(a, b):
    return compare_legs(a, b)


def test_same_rows_in_another_order_without_order_by_are_the_same():
    v = verdict(leg([select([["b"], ["a"]])]), leg([select([["a"], ["b"]])]))
    assert (v.verdict, v.kind) == ("same", None)


def test_ordered_rows_in_another_order_are_a_value_divergence():
    a = leg([select([["B"], ["a"]], order_keys=[0])])
    b = leg([select([["a"], ["B"]], order_keys=[0])])
    v = verdict(a, b)
    assert (v.verdict, v.kind) == ("diverged", "value")
    assert v.first_difference.shape == "order"
    assert v.first_difference.values == {"sqlite": [["B"], ["a"]], "postgresql": [["a"], ["B"]]}


def test_rows_tied_on_the_sort_key_may_come_in_any_order():
    rows_a = [[1, "x"], [1, "y"], [2, "z"]]
    rows_b = [[1, "y"], [1, "x"], [2, "z"]]
    assert verdict(leg([select(rows_a, order_keys=[0])]), leg([select(rows_b, order_keys=[0])])).verdict == "same"
    # without known sort keys the order is compared strictly
    assert verdict(leg([select(rows_a, ordered=True)]), leg([select(rows_b, ordered=True)])).verdict == "diverged"
    # keys in another order are a real difference
    rows_c = [[2, "z"], [1, "x"], [1, "y"]]
    assert verdict(leg([select(rows_a, order_keys=[0])]), leg([select(rows_c, order_keys=[0])])).verdict == "diverged"


def test_a_tie_on_clock_values_is_noise_with_a_harness_note():
    clock = {"$masked": "clock", "aware": False}
    a = leg([select([[clock, "first"], [clock, "second"]], order_keys=[0])])
    b = leg([select([[clock, "second"], [clock, "first"]], order_keys=[0])])
    v = verdict(a, b)
    assert v.verdict == "same" and TIE_NOTE in v.notes


def test_statements_with_different_parameters_are_not_compared():
    a = leg([select([["x"]], params=[1])])
    b = leg([select([["y"]], params=[2])])
    assert verdict(a, b).verdict == "same"


def test_a_parameter_only_one_dialect_adds_does_not_break_alignment():
    sqlite = select([["Ann"]], sql="SELECT users.name FROM users LIMIT ? OFFSET ?", params=[1, 0])
    pg = select([["Bob"]], sql="SELECT users.name FROM users LIMIT %(param_1)s", params=[1])
    v = verdict(leg([sqlite]), leg([pg]))
    assert v.verdict == "diverged" and v.first_difference.source == "statement"


def test_alignment_skips_statements_only_one_dialect_sent():
    insert = {"sql": "INSERT INTO users (name) VALUES (?)", "params": ["a"], "rows": None, "error": None}
    a = [insert, dict(insert, params=["b"]), select([["a"], ["b"]])]
    b = [{"sql": "INSERT INTO users (name) SELECT ...", "params": ["a", "b"], "rows": [[1], [2]], "error": None},
         select([["a"], ["b"]])]
    assert align(records(a), records(b)) == [(2, 1)]


def test_sqlite_lastrowid_is_compared_with_postgresql_returning():
    a = leg([{"sql": "INSERT INTO users (name) VALUES (?)", "params": ["c"], "rows": None, "error": None,
              "rowcount": 1, "lastrowid": 2}])
    b = leg([{"sql": "INSERT INTO users (name) VALUES (%(name)s) RETURNING users.id", "params": ["c"],
              "rows": [[3]], "error": None, "columns": ["id"]}])
    v = verdict(a, b)
    assert v.first_difference.shape == "new_id"
    assert v.first_difference.values == {"sqlite": [[2]], "postgresql": [[3]]}
    b.statements[0].rows = [[2]]
    assert verdict(a, b).verdict == "same"


def test_statement_errors_compare_by_kind_of_failure():
    def failing(err):
        return {"sql": "INSERT INTO users (email) VALUES (?)", "params": ["a"], "rows": None, "error": err}

    sqlite_dup = {"type": "IntegrityError", "message": "UNIQUE constraint failed: users.email",
                  "code": "SQLITE_CONSTRAINT_UNIQUE"}
    pg_dup = {"type": "UniqueViolation", "message": 'duplicate key value violates unique constraint "x"',
              "code": "23505"}
    assert verdict(leg([failing(sqlite_dup)]), leg([failing(pg_dup)])).verdict == "same"
    pg_fk = {"type": "ForeignKeyViolation", "message": "violates foreign key constraint", "code": "23503"}
    v = verdict(leg([failing(sqlite_dup)]), leg([failing(pg_fk)]))
    assert (v.verdict, v.first_difference.shape) == ("diverged", "error")
    v = verdict(leg([failing(None)]), leg([failing(pg_dup)]))  # caught by the test on one engine only
    assert v.verdict == "diverged"


def test_both_failing_the_same_way_is_failed_both_whatever_the_driver_calls_it():
    a = leg(outcome="failed", error=("IntegrityError", "UNIQUE constraint failed: users.email"))
    b = leg(outcome="failed", error=("IntegrityError", 'duplicate key value violates unique constraint "u"'))
    assert verdict(a, b).verdict == "failed_both"
    a = leg(outcome="failed", error=("OperationalError", "no such table: users"))
    b = leg(outcome="failed", error=("ProgrammingError", 'relation "users" does not exist'))
    assert same_failure(a, b) and verdict(a, b).verdict == "failed_both"
    b = leg(outcome="failed", error=("ProgrammingError", "function ifnull(text) does not exist"))
    assert verdict(a, b).kind == "error"
    assert error_family("X", "whatever", "23514") == "check"


def test_outcome_divergence_carries_the_first_differing_statement():
    a = leg([select([["alice"]], params=["al%"])])
    b = leg([select([], params=["al%"])], outcome="failed", error=("AssertionError", "assert []"))
    v = verdict(a, b)
    assert v.kind == "outcome"
    assert v.first_difference.statement.values == {"sqlite": [["alice"]], "postgresql": []}


def test_observations_come_first_with_statement_evidence():
    obs_a = [{"label": "names", "value": ["B", "a"]}]
    obs_b = [{"label": "names", "value": ["a", "B"]}]
    a = leg([select([["B"], ["a"]], order_keys=[0])], obs_a)
    b = leg([select([["a"], ["B"]], order_keys=[0])], obs_b)
    first = verdict(a, b).first_difference
    assert first.source == "observation" and first.statement.source == "statement"


def test_numbers_within_tolerance_and_strict_booleans():
    assert verdict(leg([select([[0.30000000000000004]])]), leg([select([[0.3]])])).verdict == "same"
    v = verdict(leg([select([["Ann", 1]])]), leg([select([["Ann", True]])]))
    assert v.verdict == "diverged" and v.first_difference.shape == "bool_vs_number"


def test_datetimes_near_the_leg_start_compare_relative_to_it():
    later = START + dt.timedelta(seconds=40)
    tomorrow_a = {"$dt": (START + dt.timedelta(days=1)).replace(tzinfo=None).isoformat()}
    tomorrow_b = {"$dt": (later + dt.timedelta(days=1)).replace(tzinfo=None).isoformat()}
    a = leg([select([[tomorrow_a]])], started=START)
    b = leg([select([[tomorrow_b]])], started=later)
    assert verdict(a, b).verdict == "same"
    c = leg([select([[{"$dt": "2024-01-01T00:00:00"}]])])
    d = leg([select([[{"$dt": "2024-01-02T00:00:00"}]])])
    assert verdict(c, d).verdict == "diverged"


def test_rows_past_the_kept_limit_compare_by_digest():
    def big(set_digest, digest, rows, ordered=False):
        stmt = select(rows, fetched=60, digest=digest, set_digest=set_digest, digested_rows=10)
        if ordered:
            stmt["ordered"] = True
        return stmt

    # unordered: only the multiset digest counts (the kept first rows may differ by order)
    assert verdict(leg([big("s1", "d1", [["a"]])]), leg([big("s1", "d2", [["b"]])])).verdict == "same"
    v = verdict(leg([big("s1", "d1", [["a"]])]), leg([big("s2", "d1", [["a"]])]))
    assert v.first_difference.shape == "digest"
    # ordered: a reordered tail with the same rows is not reported (ties can't be told apart there)
    assert verdict(leg([big("s1", "d1", [["a"]], True)]), leg([big("s1", "d2", [["a"]], True)])).verdict == "same"


def test_harness_and_schema_statements_are_never_compared():
    ddl_a = {"sql": "CREATE TABLE t (id INTEGER)", "params": None, "rows": None, "error": None, "rowcount": 0}
    ddl_b = dict(ddl_a, rowcount=-1)
    assert verdict(leg([ddl_a]), leg([ddl_b])).verdict == "same"


@pytest.mark.parametrize(
    ("a", "b", "shape"),
    [
        ([["a"], ["b"]], [["b"], ["a"]], "order"),
        ([[None, 1], [2, 2]], [[2, 2], [None, 1]], "nulls_position"),
        (["Alice"], ["alice"], "case"),
        ([["a"]], [["a"], ["b"]], "count"),
        ([12], ["12"], "number_vs_string"),
        ([1], [True], "bool_vs_number"),
        ([{"$dt": "2024-01-01T00:00:00"}], [{"$dtz": "2024-01-01T00:00:00+00:00"}], "naive_vs_aware"),
        (['{"a": 1}'], [{"a": 1}], "json_vs_text"),
        (["2024-03-01"], [{"$date": "2024-03-01"}], "datetime_vs_string"),
        (["us"], ["us "], "padding"),
        ([0.1], [0.100000001490116], "precision"),
        ([None], ["x"], "null_vs_value"),
        ([3], [3.5], "value"),
    ],
)
def test_classify_names_the_shape_of_a_difference(a, b, shape):
    assert classify(a, b) == shape


# -- harness noise: values the legs sent differently ------------------------------------


def insert(params, sql="INSERT INTO users (name, secret) VALUES (?, ?)", **extra):
    stmt = {"sql": sql, "params": params, "rows": None, "error": None, "rowcount": 1}
    stmt.update(extra)
    return stmt


def read_back(row, sql="SELECT users.name, users.secret FROM users WHERE users.id = ?"):
    return select([row], sql=sql, params=[1], columns=["name", "secret"])


@pytest.mark.parametrize(
    "sent_a, sent_b",
    [
        ({"$bytes": "2432622431322461"}, {"$bytes": "2432622431322462"}),  # bcrypt hashes as bytes
        ({"$dt": "1994-03-02T10:01:02.123000"}, {"$dt": "1994-03-02T10:01:02.125000"}),  # Faker date_time()
        ({"$time": "10:01:02.123000"}, {"$time": "10:01:02.125000"}),  # Faker time_object()
        ("tok_Zq8f3", "tok_81hQa"),  # secrets.token_urlsafe()
        (0.3120455, 0.3120711),  # a duration
    ],
    ids=["bytes", "datetime", "time", "text", "float"],
)
def test_values_the_legs_sent_differently_are_not_reported_when_read_back(sent_a, sent_b):
    a = leg([insert(["ann", sent_a]), read_back(["ann", sent_a])], [{"label": "user", "value": ["ann", sent_a]}])
    b = leg([insert(["ann", sent_b]), read_back(["ann", sent_b])], [{"label": "user", "value": ["ann", sent_b]}])
    assert verdict(a, b).verdict == "same"


def test_a_value_read_back_in_another_form_is_still_a_difference():
    a = leg([insert(["ann", "tok_Zq8f3"]), read_back(["ann", "tok_Zq8f3"])])
    b = leg([insert(["ann", "tok_81hQa"]), read_back(["ANN", "tok_81hQa"])])
    v = verdict(a, b)
    assert v.verdict == "diverged" and v.first_difference.source == "statement"


def test_text_built_from_a_value_sent_differently_is_not_reported():
    a = leg([insert(["ann", "Zq8f3xx"]), read_back(["ann", "https://x.test/confirm/Zq8f3xx"])])
    b = leg([insert(["ann", "81hQayy"]), read_back(["ann", "https://x.test/confirm/81hQayy"])])
    assert verdict(a, b).verdict == "same"


def test_ids_the_legs_sent_differently_are_a_difference():
    # a key parameter (user_id) is never learnt: another id is a real difference
    a = leg([insert([1234567], param_keys=[0]), read_back(["ann", 1234567])])
    b = leg([insert([7654321], param_keys=[0]), read_back(["ann", 7654321])])
    assert verdict(a, b).verdict == "diverged"


def test_returning_lists_compiled_differently_compare_on_the_common_columns():
    sql_a = "INSERT INTO users (id, name) VALUES (?, ?) RETURNING id, created"
    sql_b = "INSERT INTO users (id, name) VALUES (%(id)s, %(name)s) RETURNING users.created"
    clock = {"$masked": "clock", "aware": False, "frac": True}
    a = leg([insert([5, "ann"], sql=sql_a, rows=[[5, clock]], columns=["id", "created"])])
    b = leg([insert([5, "ann"], sql=sql_b, rows=[[clock]], columns=["created"])])
    assert verdict(a, b).verdict == "same"
    whole = {"$masked": "clock", "aware": False, "frac": False}
    a = leg([insert([5, "ann"], sql=sql_a, rows=[[5, whole]], columns=["id", "created"])])
    v = verdict(a, b)
    assert (v.verdict, v.first_difference.shape) == ("diverged", "datetime_form")


# -- the root cause, not the first difference --------------------------------------------


def test_an_outcome_divergence_names_the_statement_that_failed_on_one_engine():
    token = read_back(["ann", "tok_a"], sql="SELECT users.name, users.token FROM users")
    token_b = read_back(["ann", "tok_zz"], sql="SELECT users.name, users.token FROM users")
    ok = insert(["pen"], sql="INSERT INTO tags (id, name) VALUES (?, ?)")
    failed = dict(ok, error={"type": "IntegrityError", "message": "duplicate key value", "code": "23505"})
    a = leg([token, ok])
    b = leg([token_b, failed], outcome="failed", error=("IntegrityError", "duplicate key value"))
    v = verdict(a, b)
    assert (v.verdict, v.kind) == ("diverged", "outcome")
    assert v.first_difference.statement.shape == "error"
    assert v.first_difference.statement.sql["sqlite"].startswith("INSERT INTO tags")
    assert [d.source for d in v.differences] == ["outcome", "statement"]  # the token cell is listed too


def test_an_assertion_failure_names_the_last_differing_read():
    early = select([["x"]], sql="SELECT a.name FROM a")
    early_b = select([["X"]], sql="SELECT a.name FROM a")
    page = select([["p1"], ["p2"]], sql="SELECT b.name FROM b ORDER BY b.rank LIMIT ?", params=[2], ordered=True)
    page_b = select([["p2"], ["p3"]], sql="SELECT b.name FROM b ORDER BY b.rank LIMIT ?", params=[2], ordered=True)
    a = leg([early, page])
    b = leg([early_b, page_b], outcome="failed", error=("AssertionError", "assert 'p1' in ['p2', 'p3']"))
    v = verdict(a, b)
    assert v.first_difference.statement.sql["sqlite"].startswith("SELECT b.name")


def test_the_clock_note_needs_a_differing_clock_cell():
    clock = {"$masked": "clock", "aware": False, "frac": True}
    a = leg([select([["a", clock]], columns=["name", "at"])])
    b = leg([select([["b", clock]], columns=["name", "at"])])
    v = verdict(a, b)
    assert v.verdict == "diverged" and v.first_difference.note is None and not v.notes
    whole = dict(clock, frac=False)
    v = verdict(leg([select([["a", whole]], columns=["name", "at"])]), b)
    assert v.first_difference.note is not None


def test_a_read_that_differs_only_in_ids_is_traced_to_the_insert_that_handed_them_out():
    add = insert(["bob"], sql="INSERT INTO accounts (owner) VALUES (?)")
    a_ins = dict(add, lastrowid=2)
    b_ins = dict(add, sql="INSERT INTO accounts (owner) VALUES (%(owner)s) RETURNING accounts.id", rows=[[3]])
    ids = "SELECT accounts.id FROM accounts ORDER BY accounts.id"
    a = leg([a_ins, select([[1], [2]], sql=ids, ordered=True, columns=["id"])])
    b = leg([b_ins, select([[1], [3]], sql=ids, ordered=True, columns=["id"])],
            outcome="failed", error=("AssertionError", "assert [1, 3] == [1, 2]"))
    v = verdict(a, b)
    assert v.first_difference.statement.shape == "new_id"
