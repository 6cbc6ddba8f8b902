"""Two legs in, one verdict out — with the first place the legs parted.

Verdicts (README, "What it does"): ``diverged`` when outcomes differ, both failed with
different exception types, or both passed but saw different data; otherwise
``failed_both`` (same failure: a real bug, not a dialect difference) or ``same``.

"Different exception types" is judged on what the failure *is*, not on the
driver's class names: ``sqlite3.IntegrityError`` and psycopg's
``UniqueViolation`` for the same duplicate key are the same failure (both
legs failed the same way), and so are "no such table" and "relation ... does
not exist". The engines' error codes (SQLSTATE, SQLite's extended error name)
and messages are mapped to one family (unique, foreign_key, not_null, check,
no_table, no_column, syntax, ...); failures of the same family, or of the same
exception type, are ``failed_both``.

When statement differences alone make a ``value`` verdict
-----------------------------------------------------------
Both legs passed. The test "saw different data" — verdict ``diverged``,
kind ``value`` — when either

1. a value it ``observe()``d differs (the test said the value matters); or
2. a statement of the test returned, to the application, different rows, a
   different row count, or a different error family, *and* all of this holds:

   * the statement is aligned with one in the other leg: same shape (verb
     and tables), same result columns and **equal parameters as the
     application passed them** (SQLAlchemy's ``compiled_parameters``, before
     the dialect's bind processing). Statements whose inputs already differed
     (clock values, random salts, batches split differently by the two
     dialects) are never compared — so would their output. A parameter only
     one dialect adds (SQLite's ``OFFSET 0`` after ``LIMIT``) is ignored, and a
     new row's id SQLite reports as ``lastrowid`` is compared with the id
     PostgreSQL returns with ``RETURNING``;
   * it is the test's statement: the harness's own SQL (sequence reset,
     savepoints, BEGIN/COMMIT) and DDL are not compared;
   * only rows the application fetched are compared, after SQLAlchemy's
     result processors (what the application received: SQLite's JSON text
     parsed, its ``1`` turned into ``True`` in a Boolean column) and
     ``normalize`` (Decimal ~ float, masked clock values and random UUIDs);
   * rows of a statement without a top-level ``ORDER BY`` are compared as a
     multiset; rows of an ordered statement are compared in order, except that
     rows tied on the sort key may come in any order (when the sort keys are
     selected columns; a tie on masked clock values is a tie — PostgreSQL's
     ``now()`` is frozen inside the test transaction);
   * past the kept rows, the digests: the multiset digest for unordered
     statements, and for ordered ones a difference of order alone in the
     digested tail is ignored (ties cannot be told apart there);
   * numbers equal to a relative 1e-9; datetimes near each leg's start are
     compared relative to it (``now() + 1 day`` in both legs is equal).

   The reasoning: rows the application fetched are data it acted on; if the
   same call with the same inputs handed it different data, a user of the
   application could see the difference, whether or not the test asserted
   on it. Everything that differs *only* because of the harness (clock,
   random ids, ties, driver types) is erased before the comparison, so
   look-alike tests stay ``same``.

Statement differences are also attached as evidence to outcome and error
divergences (``first_difference.statement``, the first statement whose
result or error differed) and to ``failed_both`` entries.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from urllib.parse import unquote
from dataclasses import dataclass, field
from typing import Any

from dualdb.harness_notes import CLOCK_NOTE, TIE_NOTE
from dualdb.normalize import canonical_text
from dualdb.records import CapturedStatement, Difference, LegPayload, Observation
from dualdb.sql import is_compared_verb, statement_shape

CLOCK_NEAR = dt.timedelta(days=400)
CLOCK_TOLERANCE = dt.timedelta(seconds=3)
REL_TOLERANCE = 1e-9
FAILING = ("failed", "error")



@dataclass
class LegView:
    """The parts of one leg that comparison needs."""

    outcome: str
    error_type: str | None = None
    error_message: str | None = None
    observations: list[Observation] | None = None
    statements: list[CapturedStatement] | None = None
    started: dt.datetime | None = None


@dataclass
class Verdict:
    """A test's verdict; ``differences`` holds every difference found, the primary first."""

    verdict: str
    kind: str | None = None
    first_difference: Difference | None = None
    notes: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)


def leg_view(leg: LegPayload) -> LegView:
    """What comparison reads of a leg as the run recorded it."""
    error = leg.error
    return LegView(
        outcome=leg.outcome,
        error_type=error.type if error is not None else None,
        error_message=error.message if error is not None else None,
        observations=leg.observations,
        statements=leg.statements,
        started=dt.datetime.fromisoformat(leg.started) if leg.started else None,
    )


def pair_verdict(legs: dict[str, LegPayload], names: tuple[str, str] = ("sqlite", "postgresql")) -> Verdict:
    """The verdict of a test's two legs: compared now, or kept from when the pair completed (its
    evidence freed), or what a ``dual`` test found comparing the engines itself."""
    first, second = legs[names[0]], legs[names[1]]
    if first.paired_difference is not None:
        return Verdict("diverged", first.paired_kind, first.paired_difference)
    if first.agreed and second.agreed:
        return Verdict("same")
    return compare_legs(leg_view(first), leg_view(second), names)


def verdict_notes(legs: dict[str, LegPayload], verdict: Verdict) -> list[str]:
    """The harness notes of a test: its legs' and the comparison's, each once."""
    notes = [note for leg in legs.values() for note in leg.harness_notes]
    return list(dict.fromkeys([*notes, *(verdict.notes or [])]))


def compare_legs(a: LegView, b: LegView, names: tuple[str, str] = ("sqlite", "postgresql")) -> Verdict:
    """Compute the verdict for one test from its two legs (``a`` = SQLite, ``b`` = PostgreSQL).

    ``first_difference`` is the *primary* difference — for a test that fails on
    one engine, the one that explains the failure (see ``root_cause``), not the
    earliest; ``differences`` lists it first, then every other difference found.
    """
    if "skipped" in (a.outcome, b.outcome):
        return Verdict("skipped")
    a_fails, b_fails = a.outcome in FAILING, b.outcome in FAILING
    eq = ValueEquality(a.started, b.started)
    if a_fails and b_fails and same_failure(a, b):
        return Verdict("failed_both", None, None)
    notes: list[str] = []
    learn_differing_inputs(a.statements or [], b.statements or [], eq)
    statement_diffs = statement_differences(a.statements or [], b.statements or [], eq, names, notes=notes)
    if a_fails or b_fails:
        kind = "outcome" if a_fails != b_fails else "error"
        primary = _outcome_difference(a, b, names, statement_diffs)
        rest = [d for d in statement_diffs if d is not primary.statement]
        return Verdict("diverged", kind, primary, notes, [primary, *rest])
    observed = observation_differences(a.observations or [], b.observations or [], eq, names)
    differences = observed + statement_diffs
    if not differences:
        return Verdict("same", None, None, notes)
    differences = observed + sorted(statement_diffs, key=_clock_form_only)  # stable: in order otherwise
    primary = differences[0]
    if observed and statement_diffs:
        primary.statement = differences[len(observed)]
    for diff in differences:
        if _involves_clock(diff):
            diff.note = CLOCK_NOTE
            if CLOCK_NOTE not in notes:
                notes.append(CLOCK_NOTE)
    return Verdict("diverged", "value", primary, notes, differences)


def evidence(a: LegView, b: LegView, names: tuple[str, str] = ("sqlite", "postgresql")) -> Difference | None:
    """The first differing statement of a test whose verdict came from its outcome.

    Shown next to a ``failed_both`` entry as the place where the legs parted.
    """
    eq = ValueEquality(a.started, b.started)
    learn_differing_inputs(a.statements or [], b.statements or [], eq)
    found = statement_differences(a.statements or [], b.statements or [], eq, names, limit=1)
    return found[0] if found else None


def _outcome_difference(
    a: LegView, b: LegView, names: tuple[str, str], statement_diffs: list[Difference]
) -> Difference:
    def describe(leg: LegView) -> Any:
        if leg.error_type:
            return {"outcome": leg.outcome, "error": f"{leg.error_type}: {leg.error_message or ''}".strip()}
        return {"outcome": leg.outcome}

    failing = (_failing_statement(a), _failing_statement(b))
    cause = root_cause(statement_diffs, (a, b), failing)
    diff = Difference("outcome", {names[0]: describe(a), names[1]: describe(b)}, "error")
    if cause is not None:
        diff.index, diff.sql, diff.statement = cause.index, cause.sql, cause
    elif any(failing):
        diff.sql = {name: s.sql for name, s in zip(names, failing) if s}
    if cause is not None and _involves_clock(cause):
        diff.note = CLOCK_NOTE
    return diff


def root_cause(
    diffs: list[Difference], legs: tuple[LegView, LegView],
    failing: tuple[CapturedStatement | None, CapturedStatement | None],
) -> Difference | None:
    """The statement difference that explains why one leg failed.

    In order: the statement that raised the failing leg's error on that engine
    only; else any statement that raised on one engine only; else the last
    differing read before the failure (the data the failing code consumed);
    else the last differing statement. The earliest difference is often an
    unrelated cell (a token, a timestamp format) and would misname the cause.
    """
    if not diffs:
        return None
    errors = [d for d in diffs if d.shape == "error"]
    for side, stmt in enumerate(failing):
        if stmt is None:
            continue
        statements = legs[side].statements or []
        position = next((i for i, s in enumerate(statements) if s is stmt), None)
        for d in errors:
            if (d.index if side == 0 else d.index_other) == position:
                return d
    if errors:
        return errors[0]
    telling = [d for d in diffs if not _clock_form_only(d)] or diffs
    reads = [d for d in telling if str((d.sql or {}).get("sqlite") or "").lstrip().upper().startswith(("SELECT", "WITH"))]
    consumed = reads[-1] if reads else telling[-1]
    return _id_source(consumed, diffs) or consumed


def _id_source(read: Difference, diffs: list[Difference]) -> Difference | None:
    """The earlier INSERT that handed out the ids a differing read shows.

    A new row got another id on each engine (a sequence gap, a reused rowid);
    every later read of those rows differs only in that id. The INSERT is the
    cause, the read its consequence.
    """
    cells = differing_cells(*list(read.values.values())[:2]) if len(read.values) == 2 else []
    if not cells or not all(_is_number(x) and _is_number(y) for x, y in cells):
        return None
    for diff in diffs:
        if diff is read:
            break
        if diff.shape == "new_id":
            a, b = list(diff.values.values())[:2]
            if any([[x]] == a and [[y]] == b for x, y in cells) or any(x in _flat(a) and y in _flat(b) for x, y in cells):
                return diff
    return None


def _flat(value: Any) -> list:
    if isinstance(value, list):
        return [cell for item in value for cell in _flat(item)]
    return [value]


def _clock_form_only(diff: Difference) -> bool:
    """Every differing cell is a clock value in another form (whole seconds, naive): a real
    difference, but rarely the one a test is about when it has others."""
    values = list(diff.values.values())
    if len(values) != 2:
        return False
    cells = differing_cells(*values)
    return bool(cells) and all(_has_clock(x) and _has_clock(y) for x, y in cells)


# -- failures --------------------------------------------------------------------------

ERROR_CODE_FAMILIES = {
    "23505": "unique", "SQLITE_CONSTRAINT_UNIQUE": "unique", "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
    "23503": "foreign_key", "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign_key",
    "23502": "not_null", "SQLITE_CONSTRAINT_NOTNULL": "not_null",
    "23514": "check", "SQLITE_CONSTRAINT_CHECK": "check",
    "42P01": "no_table", "42703": "no_column", "42601": "syntax", "42883": "no_function",
    "22012": "division_by_zero", "40P01": "deadlock", "55P03": "locked", "SQLITE_BUSY": "locked",
    "SQLITE_LOCKED": "locked",
}
ERROR_MESSAGE_FAMILIES = (
    ("no such table", "no_table"), ("no such column", "no_column"),
    ("syntax error", "syntax"), ("unique constraint", "unique"), ("duplicate key", "unique"),
    ("foreign key", "foreign_key"), ("not null", "not_null"), ("null value in column", "not_null"),
    ("check constraint", "check"), ("no such function", "no_function"),
    ("database is locked", "locked"), ("lock timeout", "locked"),
)


def error_family(error_type: str | None, message: str | None, code: str | None = None) -> str | None:
    """What kind of failure this is, independent of the driver (``unique``, ``no_table`` ...)."""
    if code and code in ERROR_CODE_FAMILIES:
        return ERROR_CODE_FAMILIES[code]
    text = (message or "").lower()
    if "does not exist" in text:
        if text.startswith("relation") or " relation " in text:
            return "no_table"
        if text.startswith("column") or " column " in text:
            return "no_column"
        if "function" in text:
            return "no_function"
    for fragment, family in ERROR_MESSAGE_FAMILIES:
        if fragment in text:
            return family
    return None


def _failing_statement(leg: LegView) -> CapturedStatement | None:
    """The captured statement whose error the leg ended with, if any."""
    message = leg.error_message or ""
    last = None
    for stmt in leg.statements or []:
        err = stmt.error
        if err:
            last = stmt
            if err.message and err.message in message:
                return stmt
    return last if leg.error_type and last is not None and last.error.type == leg.error_type else None


def same_failure(a: LegView, b: LegView) -> bool:
    """Both legs failed the same way (same exception type, or same kind of database error)."""
    if a.error_type == b.error_type:
        return True
    fa, fb = _leg_family(a), _leg_family(b)
    return fa is not None and fa == fb


def _leg_family(leg: LegView) -> str | None:
    stmt = _failing_statement(leg)
    code = stmt.error.code if stmt is not None and stmt.error is not None else None
    return error_family(leg.error_type, leg.error_message, code)


# -- observations ----------------------------------------------------------------------


def observation_differences(
    a: list[Observation], b: list[Observation], eq: ValueEquality, names: tuple[str, str]
) -> list[Difference]:
    """Every observed value that differs, in the order the test observed them."""
    out = []
    for index in range(max(len(a), len(b))):
        left = a[index] if index < len(a) else None
        right = b[index] if index < len(b) else None
        if left is not None and right is not None:
            if same_label(left.label, right.label) and eq.equal(left.value, right.value):
                continue
        label = (left or right).label
        values = {
            names[0]: left.value if left else {"$missing": True},
            names[1]: right.value if right else {"$missing": True},
        }
        out.append(Difference("observation", values, classify(values[names[0]], values[names[1]]),
                              index=index, label=label))
    return out


_LABEL_NOISE = re.compile(r"[0-9a-f]{8,}|\d+", re.I)


def same_label(a: str, b: str) -> bool:
    """Labels name what was observed; they may hold values the legs sent differently (an
    ``observe(f"GET /events?after={cutoff}")`` label, an id in a URL), so they compare with
    their numbers and hex runs blanked. The observed values themselves compare exactly."""
    return a == b or _LABEL_NOISE.sub("#", unquote(str(a))) == _LABEL_NOISE.sub("#", unquote(str(b)))


def first_observation_difference(
    a: list[Observation], b: list[Observation], eq: ValueEquality, names: tuple[str, str]
) -> Difference | None:
    found = observation_differences(a, b, eq, names)
    return found[0] if found else None


# -- statements ------------------------------------------------------------------------


def _shape(stmt: CapturedStatement) -> str:
    sql = stmt.sql
    shape = _SHAPES.get(sql)
    if shape is None:
        if len(_SHAPES) > 8192:
            _SHAPES.clear()
        shape = _SHAPES[sql] = statement_shape(sql)
    return shape


def _comparable(stmt: CapturedStatement) -> bool:
    return is_compared_verb(_shape(stmt).split(" ", 1)[0])


def align(a: list[CapturedStatement], b: list[CapturedStatement], eq: ValueEquality | None = None) -> list[tuple[int, int]]:
    """Index pairs of statements that correspond in the two legs, in order.

    Statements correspond when they have the same shape (verb + tables), the
    same result columns and equal parameters; the longest common subsequence
    of those keys pairs them, so a statement only one dialect sends (a batch
    split differently, a dialect's extra query) does not shift the rest.
    """
    eq = eq or ValueEquality(None, None)
    keys_a = [_align_key(s, eq, "a") for s in a]
    keys_b = [_align_key(s, eq, "b") for s in b]
    matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
    pairs = []
    for block in matcher.get_matching_blocks():
        pairs.extend((block.a + k, block.b + k) for k in range(block.size))
    return pairs


def statement_params(stmt: CapturedStatement) -> Any:
    """A statement's parameters (a list of values in bind-name order)."""
    return stmt.params


def is_ordered(stmt: CapturedStatement) -> bool:
    """The statement has a top-level ORDER BY."""
    return stmt.ordered


_SHAPES: dict[str, str] = {}


def _align_key(stmt: CapturedStatement, eq: ValueEquality, side: str) -> str:
    params = eq.comparable(statement_params(stmt), side)
    if isinstance(params, list):  # a dialect may add its own (SQLite: OFFSET 0 after LIMIT)
        params = [v for v in params if not _filler(v)]
    shape = _shape(stmt)
    # result columns tell SELECTs apart; a write returns ids only where the dialect uses RETURNING
    columns = stmt.columns if shape.startswith(("SELECT", "WITH", "VALUES")) else None
    return f"{shape}|{canonical_text(columns)}|{canonical_text(params)}"


def _filler(value: Any) -> bool:
    return type(value) is int and value in (0, -1)


def params_compatible(pa: Any, pb: Any, eq: ValueEquality) -> bool:
    """Equal parameters, ignoring ones only one dialect adds (``LIMIT ? OFFSET 0`` on SQLite)."""
    if eq.equal(pa, pb):
        return True
    if isinstance(pa, list) and isinstance(pb, list) and len(pa) != len(pb):
        return eq.equal([v for v in pa if not _filler(v)], [v for v in pb if not _filler(v)])
    if (pa is None and pb == []) or (pb is None and pa == []):
        return True
    return False


def statement_differences(
    a: list[CapturedStatement],
    b: list[CapturedStatement],
    eq: ValueEquality,
    names: tuple[str, str],
    include_errors: bool = True,
    notes: list[str] | None = None,
    limit: int | None = None,
) -> list[Difference]:
    """Every aligned pair of statements whose results differ, in execution order."""
    out: list[Difference] = []
    for i, j in align(a, b, eq):
        left, right = a[i], b[j]
        if not _comparable(left) or not params_compatible(statement_params(left), statement_params(right), eq):
            continue
        problem, tie_note = _statement_mismatch(left, right, eq)
        if tie_note and notes is not None and tie_note not in notes:
            notes.append(tie_note)
        if problem is None:
            continue
        if problem == "error" and not include_errors:
            continue
        values = {names[0]: _result_of(left, right), names[1]: _result_of(right, left)}
        projected = _common_columns(left, right)
        if projected is not None and problem == "rows":
            values = {names[0]: projected[0], names[1]: projected[1]}
        # the shape is named on the values with what the legs sent differently made equal
        seen_a, seen_b = eq.comparable(values[names[0]], "a"), eq.comparable(values[names[1]], "b")
        if problem in ("error", "rowcount", "digest", "new_id"):
            shape = problem
        elif is_ordered(left) and is_ordered(right):
            shape = classify(seen_a, seen_b)
        else:  # unordered: line the rows up before naming the difference
            shape = classify(_loosely_sorted(seen_a), _loosely_sorted(seen_b))
        out.append(Difference(
            "statement", values, shape,
            index=i,
            index_other=j,
            sql={names[0]: left.sql, names[1]: right.sql},
            params=statement_params(left),
            columns=projected[2] if projected is not None else left.columns,
            ordered=is_ordered(left) and is_ordered(right),
            order_by=left.order_by,
        ))
        if limit is not None and len(out) >= limit:
            break
    return out


def _common_columns(left: CapturedStatement, right: CapturedStatement) -> tuple[list, list, list] | None:
    """Both legs' rows on the result columns both returned, by name, when the lists differ.

    The dialects compile one ORM call differently: for a model with an explicit
    id and a server default SQLite's ``RETURNING id, created`` is PostgreSQL's
    ``RETURNING created``. What the application sees is the common columns.
    """
    ca, cb = left.columns, right.columns
    rows_a, rows_b = left.rows, right.rows
    if not ca or not cb or list(ca) == list(cb) or rows_a is None or rows_b is None:
        return None
    common = [c for c in ca if c in cb]
    ia, ib = [list(ca).index(c) for c in common], [list(cb).index(c) for c in common]

    def project(rows: list, positions: list[int]) -> list:
        return [[row[k] for k in positions] if isinstance(row, list) and len(row) > max(positions, default=-1) else row
                for row in rows]

    return project(rows_a, ia), project(rows_b, ib), common


def learn_differing_inputs(a: list[CapturedStatement], b: list[CapturedStatement], eq: ValueEquality) -> None:
    """Remember values the two legs *sent* differently, so they are not reported when they come back.

    Salts, ``secrets`` tokens, bcrypt/argon2 hashes (bytes or text), Faker's
    clock-scaled dates and times and other unseedable inputs differ between the
    legs by construction; a password hash written with a random salt and read
    back by id would otherwise look like a divergence. Statements are paired
    by shape only (verb + tables) for this, and values at the same parameter
    position are learnt — of any type except numbers bound to a key (``id``,
    ``user_id`` ...: an id that differs is a real difference, such as a
    sequence that handed out another value).
    """
    keys_a = [_shape(s) for s in a]
    keys_b = [_shape(s) for s in b]
    matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            left, right = a[block.a + k], b[block.b + k]
            keys = set(left.param_keys or ()) | set(right.param_keys or ())
            _learn_params(statement_params(left), statement_params(right), eq, keys)
    # rows written in batches the two dialects split differently: paired row by row, per table
    rows_a, rows_b = _batched_rows(a), _batched_rows(b)
    for shape, rows in rows_a.items():
        for x, y in zip(rows, rows_b.get(shape, ())):
            _learn_params(x, y, eq, frozenset(), top=False)


_KEY_NAME = re.compile(r"(?:^|_)(?:id|pk|key)$", re.I)


def _batched_rows(statements: list[CapturedStatement]) -> dict[str, list[dict[str, Any]]]:
    """The rows each kind of write sent as batches (parameters as one dict per row), in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for stmt in statements:
        params = statement_params(stmt)
        if isinstance(params, list) and params and all(isinstance(p, dict) and not _is_tag(p) for p in params):
            out.setdefault(_shape(stmt), []).extend(params)
    return out


def _learn_params(pa: Any, pb: Any, eq: ValueEquality, keys: set[int] = frozenset(), top: bool = True) -> None:
    if isinstance(pa, list) and isinstance(pb, list) and len(pa) == len(pb):
        for position, (x, y) in enumerate(zip(pa, pb)):
            if top and position in keys and _is_number(x) and _is_number(y):
                continue
            _learn_params(x, y, eq, keys, top=False)
    elif isinstance(pa, dict) and isinstance(pb, dict) and not _is_tag(pa) and pa.keys() == pb.keys():
        for key in pa:  # batched rows, JSON documents
            if not (_KEY_NAME.search(key) and _is_number(pa[key])):
                _learn_params(pa[key], pb[key], eq, frozenset(), top=False)
    elif pa is not None and pb is not None and _learnable(pa) and _learnable(pb) and pa != pb:
        eq.learn(pa, pb)


LEARNED_INT_MIN = 100_000


def _learnable(value: Any) -> bool:
    """A value the harness could have made differ: text, a tagged value (bytes, dates, times),
    a fraction (a duration), a large integer (a random code or nonce).

    Small integers are not learnt: when two legs send a different count or
    limit, it came from a result that already differed, and is reported there.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return True
    if isinstance(value, float):
        return not value.is_integer()
    if isinstance(value, int):
        return abs(value) >= LEARNED_INT_MIN
    return _is_tag(value) and "$masked" not in value and "$missing" not in value


def _loosely_sorted(rows: Any) -> Any:
    if not isinstance(rows, list):
        return rows
    return sorted(rows, key=lambda r: canonical_text(r).lower())


def _new_id(stmt: CapturedStatement, other: CapturedStatement) -> int | None:
    """The new row's id SQLite reported as ``lastrowid`` where the other dialect used RETURNING."""
    if stmt.rows is not None or stmt.lastrowid is None:
        return None
    theirs = other.rows
    if theirs and len(theirs) == 1 and isinstance(theirs[0], list) and theirs[0] and type(theirs[0][0]) is int:
        return stmt.lastrowid
    return None


def _result_of(stmt: CapturedStatement, other: CapturedStatement | None = None) -> Any:
    if stmt.error:
        return {"error": f"{stmt.error.type}: {stmt.error.message}"}
    if stmt.rows is not None:
        return stmt.rows
    if other is not None and _new_id(stmt, other) is not None:
        return [[stmt.lastrowid]]
    return {"rowcount": stmt.rowcount}


def _statement_mismatch(left: CapturedStatement, right: CapturedStatement, eq: ValueEquality) -> tuple[str | None, str | None]:
    """``(problem, note)``: what differs between two aligned statements, if anything."""
    le, re_ = left.error, right.error
    if bool(le) != bool(re_):
        return "error", None
    if le and re_:
        if le.type == re_.type:
            return None, None
        fa = error_family(le.type, le.message, le.code)
        fb = error_family(re_.type, re_.message, re_.code)
        return (None if fa is not None and fa == fb else "error"), None
    for mine, theirs in ((left, right), (right, left)):
        new_id = _new_id(mine, theirs)
        if new_id is not None:
            return ("new_id" if new_id != theirs.rows[0][0] else None), None
    rows_a, rows_b = left.rows, right.rows
    if rows_a is not None and rows_b is not None:
        # (one side without rows: RETURNING used by one dialect only, or not fetched)
        if left.fetched_rows != right.fetched_rows:
            return "rows", None
        projected = _common_columns(left, right)
        if projected is not None:  # the dialects returned different columns: compare the common ones
            if not projected[2]:
                return None, None
            same = eq.equal(eq.sorted_rows(projected[0], "a"), eq.sorted_rows(projected[1], "b"))
            return (None if same else "rows"), None
        ordered = is_ordered(left) and is_ordered(right)
        digested = left.digested_rows or right.digested_rows
        if digested and not ordered:
            return ("digest" if left.set_digest != right.set_digest else None), None
        if not ordered:
            if eq.equal(eq.sorted_rows(rows_a, "a"), eq.sorted_rows(rows_b, "b")):
                return None, None
            return "rows", None
        if not eq.equal(rows_a, rows_b):
            tie, clock = _tie_permutation(rows_a, rows_b, left.order_keys, right.order_keys, eq)
            if not tie:
                return "rows", None
            if clock:
                return None, TIE_NOTE
        if digested and left.digest != right.digest:
            if left.set_digest != right.set_digest:
                return "digest", None
        return None, None
    count_a, count_b = left.rowcount, right.rowcount
    if count_a is not None and count_b is not None and count_a != count_b:
        return "rowcount", None
    return None, None


def _tie_permutation(rows_a: list, rows_b: list, keys_a: Any, keys_b: Any, eq: ValueEquality) -> tuple[bool, bool]:
    """``(is_tie_only, tie_on_clock)``: the rows differ only in the order of rows with equal sort keys."""
    if not keys_a or keys_a != keys_b or len(rows_a) != len(rows_b):
        return False, False

    def groups(rows: list, side: str) -> list[tuple[Any, list]]:
        out: list[tuple[Any, list]] = []
        for row in rows:
            if not isinstance(row, list) or max(keys_a) >= len(row):
                raise ValueError
            key = [row[k] for k in keys_a]
            if out and eq.equal(out[-1][0], key):
                out[-1][1].append(row)
            else:
                out.append((key, [row]))
        return out

    try:
        ga, gb = groups(rows_a, "a"), groups(rows_b, "b")
    except ValueError:
        return False, False
    if len(ga) != len(gb):
        return False, False
    clock = False
    for (ka, ra), (kb, rb) in zip(ga, gb):
        if not eq.equal(ka, kb) or len(ra) != len(rb):
            return False, False
        if not eq.equal(eq.sorted_rows(ra, "a"), eq.sorted_rows(rb, "b")):
            return False, False
        if len(ra) > 1 and ra != rb and _has_clock(ka):
            clock = True
    return True, clock


# -- equality with tolerances ----------------------------------------------------------


class ValueEquality:
    """Structural equality of normalised values.

    Numbers are equal to a relative ``REL_TOLERANCE``; datetimes near each
    leg's start compare relative to it (``now() + 1 day`` computed in both legs).
    """

    def __init__(self, start_a: dt.datetime | None, start_b: dt.datetime | None):
        self.start_a, self.start_b = start_a, start_b
        # canonical texts of values the test itself sent differently: (sqlite, postgresql)
        self.inputs: set[tuple[str, str]] = set()
        self.sent: dict[str, dict[str, int]] = {"a": {}, "b": {}}  # text -> pair number, per side
        self._texts: list[tuple[str, str]] = []  # the pairs that are text (for derived values)

    def learn(self, x: Any, y: Any) -> None:
        """``x`` (SQLite) and ``y`` (PostgreSQL) were sent in the same place: treat them as equal."""
        pair = (canonical_text(x), canonical_text(y))
        if pair in self.inputs:
            return
        self.inputs.add(pair)
        number = len(self.inputs)
        self.sent["a"].setdefault(pair[0], number)
        self.sent["b"].setdefault(pair[1], number)
        if type(x) is str and type(y) is str and min(len(x), len(y)) >= 6:
            self._texts.append((x, y))

    def equal(self, x: Any, y: Any) -> bool:
        tx, ty = type(x), type(y)
        if tx is bool or ty is bool:  # True == 1 in Python, not in the data
            return tx is ty and x == y
        if tx is ty and (tx is str or x is None):
            return x == y or (tx is str and self._sent_differently(x, y))
        if tx is dict and ty is dict:
            if x.keys() != y.keys():
                return bool(self.inputs) and self._sent_differently(x, y)
            if len(x) == 1 and next(iter(x)) in ("$dt", "$dtz"):
                return self._clock_equal(x, y) or self._sent_differently(x, y)
            if all(self.equal(x[k], y[k]) for k in x):
                return True
            return bool(self.inputs) and _is_tag(x) and self._sent_differently(x, y)
        if tx is list and ty is list:
            return len(x) == len(y) and all(self.equal(p, q) for p, q in zip(x, y))
        if tx in (int, float) and ty in (int, float):
            return x == y or math.isclose(x, y, rel_tol=REL_TOLERANCE, abs_tol=1e-12) or self._sent_differently(x, y)
        return x == y and tx is ty

    def _sent_differently(self, x: Any, y: Any) -> bool:
        """Values the legs sent differently, or text built from them (a URL holding a token)."""
        if not self.inputs:
            return False
        if (canonical_text(x), canonical_text(y)) in self.inputs:
            return True
        if type(x) is str and type(y) is str:
            for p, q in self._texts:
                if p in x and q in y and x.replace(p, q) == y:
                    return True
            # a datetime sent as a parameter and read back as ISO text (a JSON response body)
            for tx, ty in zip(_datetime_tags(x), _datetime_tags(y)):
                if (canonical_text(tx), canonical_text(ty)) in self.inputs:
                    return True
        return False

    def _clock_equal(self, x: dict, y: dict) -> bool:
        key = next(iter(x))
        if x[key] == y[key]:
            return True
        if self.start_a is None or self.start_b is None:
            return False
        try:
            a = _as_utc(dt.datetime.fromisoformat(x[key]))
            b = _as_utc(dt.datetime.fromisoformat(y[key]))
        except (TypeError, ValueError):
            return False
        if abs(a - self.start_a) > CLOCK_NEAR or abs(b - self.start_b) > CLOCK_NEAR:
            return False
        return abs((a - self.start_a) - (b - self.start_b)) <= CLOCK_TOLERANCE

    def comparable(self, value: Any, side: str) -> Any:
        """``value`` with datetimes near the leg's start made relative to it, and values the
        legs sent differently replaced by their pair number (for sorting and alignment keys)."""
        sent = self.sent[side]
        if sent:
            value = _substitute(value, sent)
        start = self.start_a if side == "a" else self.start_b
        if start is not None:
            value = _relative(value, start)
        return value

    def sorted_rows(self, rows: list, side: str) -> list:
        return sorted(rows, key=lambda r: canonical_text(self.comparable(r, side)))


def _datetime_tags(text: str) -> list[dict[str, str]]:
    """The normalised forms an ISO timestamp text could have been sent as: naive, and aware."""
    if not (10 <= len(text) <= 40 and text[4:5] == "-" and text[:4].isdigit()):
        return []
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return []
    if moment.tzinfo is None:
        return [{"$dt": moment.isoformat()}, {"$dtz": moment.replace(tzinfo=dt.timezone.utc).isoformat()}]
    return [{"$dt": moment.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat()},
            {"$dtz": moment.astimezone(dt.timezone.utc).isoformat()}]


def _substitute(value: Any, sent: dict[str, int]) -> Any:
    """Values a leg sent differently from the other, replaced by the number of their pair."""
    if isinstance(value, list):
        return [_substitute(v, sent) for v in value]
    if value is None or isinstance(value, bool) or (isinstance(value, dict) and not _is_tag(value)):
        return value
    number = sent.get(canonical_text(value))
    if number is None and isinstance(value, str):
        number = next((n for tag in _datetime_tags(value) if (n := sent.get(canonical_text(tag)))), None)
    return value if number is None else {"$sent": number}


def _relative(value: Any, start: dt.datetime) -> Any:
    tv = type(value)
    if tv is list:
        return [_relative(v, start) for v in value]
    if tv is dict:
        if len(value) == 1:
            key = next(iter(value))
            if key in ("$dt", "$dtz"):
                try:
                    moment = _as_utc(dt.datetime.fromisoformat(value[key]))
                except (TypeError, ValueError):
                    return value
                if abs(moment - start) <= CLOCK_NEAR:
                    seconds = round((moment - start).total_seconds() / CLOCK_TOLERANCE.total_seconds())
                    return {key + "~": seconds}
                return value
        return {k: _relative(v, start) for k, v in value.items()}
    return value


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _has_clock(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get("$masked") == "clock" or any(_has_clock(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_clock(v) for v in value)
    return False


def _involves_clock(diff: Difference) -> bool:
    """A cell that differs is a clock value (not merely a row that holds one)."""
    if diff is None:
        return False
    values = list(diff.values.values())
    if len(values) != 2 or diff.shape in ("error", "rowcount", "digest", "new_id"):
        return False
    a, b = values
    if not diff.ordered:
        a, b = _loosely_sorted(a), _loosely_sorted(b)
    return any(_has_clock(x) or _has_clock(y) for x, y in differing_cells(a, b))


def differing_cells(a: Any, b: Any) -> list[tuple[Any, Any]]:
    """The innermost pairs of values that differ, position by position."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [cell for x, y in zip(a, b) if canonical_text(x) != canonical_text(y) for cell in differing_cells(x, y)]
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and not _is_tag(a):
        return [cell for k in a if canonical_text(a[k]) != canonical_text(b[k]) for cell in differing_cells(a[k], b[k])]
    return [(a, b)]


# -- what a difference looks like -----------------------------------------------------


def classify(a: Any, b: Any) -> str:
    """Name the shape of a value difference, for explanations and readers.

    ``order``: same items in another order; ``case``: equal ignoring case;
    ``nulls_position``: same items with NULLs moved; ``naive_vs_aware``;
    ``number_vs_string``; ``bool_vs_number``; ``json_vs_text`` (parsed JSON vs
    its text); ``datetime_vs_string``; ``padding`` (equal but for trailing
    blanks); ``precision`` (numbers equal to a few digits); ``null_vs_value``;
    ``type``: different kinds of value; ``count``: different number of items;
    otherwise ``value``.
    """
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "count"
        if sorted(map(canonical_text, a)) == sorted(map(canonical_text, b)):
            if _nulls_moved(a, b):
                return "nulls_position"
            return "order"
        if canonical_text(a).lower() == canonical_text(b).lower():
            return "case"
        for x, y in zip(a, b):
            if canonical_text(x) != canonical_text(y):
                inner = classify(x, y)
                return inner if inner != "count" else "value"
        return "value"
    if _is_datetime_tag(a) and _is_datetime_tag(b) and next(iter(a)) != next(iter(b)):
        return "naive_vs_aware"
    if isinstance(a, dict) and isinstance(b, dict) and "$masked" in a and "$masked" in b:
        if a.get("aware") != b.get("aware"):
            return "naive_vs_aware"
        return "datetime_form" if a.get("$masked") == b.get("$masked") == "clock" else "value"
    if (a is None) != (b is None):
        return "null_vs_value"
    if isinstance(a, str) and isinstance(b, str):
        if a.lower() == b.lower():
            return "case"
        if a.rstrip() == b.rstrip():
            return "padding"
        return "value"
    if isinstance(a, bool) != isinstance(b, bool) and (_is_number(a) or _is_number(b)):
        return "bool_vs_number"
    if _is_number(a) and isinstance(b, str) or _is_number(b) and isinstance(a, str):
        return "number_vs_string"
    if isinstance(a, str) and isinstance(b, (dict, list)) and not _is_tag(b) or (
        isinstance(b, str) and isinstance(a, (dict, list)) and not _is_tag(a)
    ):
        return "json_vs_text"
    if isinstance(a, str) and _is_temporal_tag(b) or isinstance(b, str) and _is_temporal_tag(a):
        return "datetime_vs_string"
    if _is_number(a) and _is_number(b):
        if a and b and abs(a - b) <= 1e-4 * max(abs(a), abs(b)):
            return "precision"
        return "value"
    if type(a) is not type(b):
        return "type"
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() != b.keys():
        return "type" if _is_tag(a) or _is_tag(b) else "value"
    if isinstance(a, dict) and isinstance(b, dict) and not _is_tag(a):  # a JSON body: its first differing field
        for key in a:
            if canonical_text(a[key]) != canonical_text(b[key]):
                inner = classify(a[key], b[key])
                return inner if inner != "count" else "value"
    return "value"


def _nulls_moved(a: list, b: list) -> bool:
    def null_positions(rows: list) -> list[int]:
        out = []
        for i, row in enumerate(rows):
            if row is None or (isinstance(row, list) and any(v is None for v in row)):
                out.append(i)
        return out

    pa, pb = null_positions(a), null_positions(b)
    return bool(pa) and pa != pb


def _is_tag(v: Any) -> bool:
    return isinstance(v, dict) and len(v) >= 1 and all(str(k).startswith("$") for k in list(v)[:1])


def _is_datetime_tag(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("$dt", "$dtz")


def _is_temporal_tag(v: Any) -> bool:
    return isinstance(v, dict) and len(v) >= 1 and next(iter(v)) in ("$dt", "$dtz", "$date", "$time", "$masked")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
