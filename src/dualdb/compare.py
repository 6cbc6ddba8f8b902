"""Two legs in, one verdict out — with the first place the legs parted.

Verdicts follow DESIGN.md: ``diverged`` when outcomes differ, both failed with
different exception types, or both passed but saw different data; otherwise
``failed_both`` (same failure: a real bug, not a dialect difference) or ``same``.

What counts as "saw different data" when both legs pass:

1. an ``observe()``d value differs — the test said this value matters;
2. a statement both legs sent *with equal parameters* returned different
   rows, row counts or errors. Rows are compared as a multiset unless the
   statement has a top-level ``ORDER BY``; statements are aligned by their
   shape (verb + tables) so dialect-specific extra statements don't shift the
   comparison. Statements with different parameters are never compared —
   their inputs already differed (clock, salts, random ids), so would their output.

Datetimes near the wall clock are compared relative to each leg's start, so
``now() + 1 day`` in both legs is equal even though the legs ran at different times.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Any

from .normalize import canonical_text

CLOCK_NEAR = dt.timedelta(days=7)
CLOCK_TOLERANCE = dt.timedelta(seconds=3)
FAILING = ("failed", "error")


@dataclass
class LegView:
    """The parts of one leg that comparison needs."""

    outcome: str
    error_type: str | None = None
    error_message: str | None = None
    observations: list[dict[str, Any]] | None = None
    statements: list[dict[str, Any]] | None = None
    started: dt.datetime | None = None


@dataclass
class Verdict:
    verdict: str
    kind: str | None = None
    first_difference: dict[str, Any] | None = None


def compare_legs(a: LegView, b: LegView, names: tuple[str, str] = ("sqlite", "postgresql")) -> Verdict:
    """Compute the verdict for one test from its two legs (``a`` = SQLite, ``b`` = PostgreSQL)."""
    if "skipped" in (a.outcome, b.outcome):
        return Verdict("skipped")
    a_fails, b_fails = a.outcome in FAILING, b.outcome in FAILING
    if a_fails != b_fails:
        return Verdict("diverged", "outcome", _outcome_difference(a, b, names))
    clock = _ClockEquality(a.started, b.started)
    if a_fails and b_fails:
        if a.error_type != b.error_type:
            return Verdict("diverged", "error", _outcome_difference(a, b, names))
        return Verdict("failed_both", None, None)
    diff = first_observation_difference(a.observations or [], b.observations or [], clock, names)
    if diff is None:
        diff = first_statement_difference(a.statements or [], b.statements or [], clock, names)
    if diff is not None:
        return Verdict("diverged", "value", diff)
    return Verdict("same")


def evidence(a: LegView, b: LegView, names: tuple[str, str] = ("sqlite", "postgresql")) -> dict[str, Any] | None:
    """The first differing statement of a test whose verdict came from its outcome.

    Shown next to an outcome/error divergence as the place where the legs parted.
    """
    clock = _ClockEquality(a.started, b.started)
    return first_statement_difference(a.statements or [], b.statements or [], clock, names, include_errors=True)


def _outcome_difference(a: LegView, b: LegView, names: tuple[str, str]) -> dict[str, Any]:
    def describe(leg: LegView) -> Any:
        if leg.error_type:
            return {"outcome": leg.outcome, "error": f"{leg.error_type}: {leg.error_message or ''}".strip()}
        return {"outcome": leg.outcome}

    first = evidence(a, b, names)
    diff = {
        "source": "outcome",
        "index": None,
        "label": None,
        "sql": None,
        "values": {names[0]: describe(a), names[1]: describe(b)},
        "shape": "error",
        "note": None,
    }
    if first is not None:
        diff.update({k: first[k] for k in ("index", "sql") if first.get(k) is not None})
        diff["statement"] = first
    return diff


# -- observations ----------------------------------------------------------------------


def first_observation_difference(
    a: list[dict[str, Any]], b: list[dict[str, Any]], clock: _ClockEquality, names: tuple[str, str]
) -> dict[str, Any] | None:
    for index in range(max(len(a), len(b))):
        left = a[index] if index < len(a) else None
        right = b[index] if index < len(b) else None
        if left is not None and right is not None:
            if left["label"] == right["label"] and clock.equal(left["value"], right["value"]):
                continue
        label = (left or right or {}).get("label")
        values = {
            names[0]: left["value"] if left else {"$missing": True},
            names[1]: right["value"] if right else {"$missing": True},
        }
        return {
            "source": "observation",
            "index": index,
            "label": label,
            "sql": None,
            "values": values,
            "shape": classify(values[names[0]], values[names[1]]),
            "note": None,
        }
    return None


# -- statements ------------------------------------------------------------------------

TABLE_RE = re.compile(r'\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+("?[\w.]+"?)', re.I)


def statement_shape(sql: str) -> str:
    """Verb plus referenced tables: equal for the two dialects' SQL of the same ORM call."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    tables = sorted({t.strip('"').split(".")[-1].lower() for t in TABLE_RE.findall(sql)})
    return f"{verb} {','.join(tables)}"


def align(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Index pairs of statements that correspond in the two legs, in order."""
    shapes_a = [statement_shape(s["sql"]) for s in a]
    shapes_b = [statement_shape(s["sql"]) for s in b]
    matcher = difflib.SequenceMatcher(a=shapes_a, b=shapes_b, autojunk=False)
    pairs = []
    for block in matcher.get_matching_blocks():
        pairs.extend((block.a + k, block.b + k) for k in range(block.size))
    return pairs


def first_statement_difference(
    a: list[dict[str, Any]],
    b: list[dict[str, Any]],
    clock: _ClockEquality,
    names: tuple[str, str],
    include_errors: bool = True,
) -> dict[str, Any] | None:
    for i, j in align(a, b):
        left, right = a[i], b[j]
        if not clock.equal(left.get("params"), right.get("params")):
            continue
        problem = _statement_mismatch(left, right, clock)
        if problem is None:
            continue
        if problem == "error" and not include_errors:
            continue
        values = {names[0]: _result_of(left), names[1]: _result_of(right)}
        return {
            "source": "statement",
            "index": i,
            "label": None,
            "sql": {names[0]: left["sql"], names[1]: right["sql"]},
            "params": left.get("params"),
            "values": values,
            "shape": problem if problem in ("error", "rowcount") else classify(values[names[0]], values[names[1]]),
            "note": None,
        }
    return None


def _result_of(stmt: dict[str, Any]) -> Any:
    if stmt.get("error"):
        return {"error": f"{stmt['error']['type']}: {stmt['error']['message']}"}
    if stmt.get("rows") is not None:
        return stmt["rows"]
    return {"rowcount": stmt.get("rowcount")}


def _statement_mismatch(left: dict[str, Any], right: dict[str, Any], clock: _ClockEquality) -> str | None:
    le, re_ = left.get("error"), right.get("error")
    if bool(le) != bool(re_) or (le and re_ and le["type"] != re_["type"]):
        return "error"
    if le and re_:
        return None
    if left.get("rows") is not None and right.get("rows") is not None:
        # (one side without rows: RETURNING used by one dialect only, or not fetched)
        rows_a, rows_b = left["rows"], right["rows"]
        if left.get("fetched", len(rows_a)) != right.get("fetched", len(rows_b)):
            return "rows"
        ordered = left.get("ordered") and right.get("ordered")
        if not ordered:
            rows_a, rows_b = _sorted(rows_a), _sorted(rows_b)
        if not clock.equal(rows_a, rows_b):
            return "rows"
        if ordered and left.get("digest") != right.get("digest"):
            return "rows"
        return None
    if left.get("rowcount") is not None and right.get("rowcount") is not None:
        if left["rowcount"] != right["rowcount"]:
            return "rowcount"
    return None


def _sorted(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=canonical_text)


# -- equality with clock tolerance ---------------------------------------------------


class _ClockEquality:
    """Structural equality where datetimes near each leg's start compare relative to it."""

    def __init__(self, start_a: dt.datetime | None, start_b: dt.datetime | None):
        self.start_a, self.start_b = start_a, start_b

    def equal(self, x: Any, y: Any) -> bool:
        if x == y:
            return True
        if isinstance(x, dict) and isinstance(y, dict):
            if x.keys() != y.keys():
                return False
            if len(x) == 1 and next(iter(x)) in ("$dt", "$dtz"):
                return self._clock_equal(x, y)
            return all(self.equal(x[k], y[k]) for k in x)
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(self.equal(p, q) for p, q in zip(x, y))
        return False

    def _clock_equal(self, x: dict, y: dict) -> bool:
        if self.start_a is None or self.start_b is None:
            return False
        key = next(iter(x))
        try:
            a = _as_utc(dt.datetime.fromisoformat(x[key]))
            b = _as_utc(dt.datetime.fromisoformat(y[key]))
        except (TypeError, ValueError):
            return False
        if abs(a - self.start_a) > CLOCK_NEAR or abs(b - self.start_b) > CLOCK_NEAR:
            return False
        return abs((a - self.start_a) - (b - self.start_b)) <= CLOCK_TOLERANCE


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


# -- what a difference looks like -----------------------------------------------------


def classify(a: Any, b: Any) -> str:
    """Name the shape of a value difference, for explanations and readers.

    ``order``: same items in another order; ``case``: equal ignoring case;
    ``nulls_position``: same items with NULLs moved; ``naive_vs_aware``;
    ``number_vs_string``; ``type``: different kinds of value; ``count``: different
    number of items; otherwise ``value``.
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
                if inner != "value":
                    return inner
        return "value"
    if _is_datetime_tag(a) and _is_datetime_tag(b) and next(iter(a)) != next(iter(b)):
        return "naive_vs_aware"
    if isinstance(a, dict) and isinstance(b, dict) and "$masked" in a and "$masked" in b:
        return "naive_vs_aware" if a.get("aware") != b.get("aware") else "value"
    if isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower():
        return "case"
    if _is_number(a) and isinstance(b, str) or _is_number(b) and isinstance(a, str):
        return "number_vs_string"
    if type(a) is not type(b) and not (_is_number(a) and _is_number(b)):
        return "type"
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


def _is_datetime_tag(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("$dt", "$dtz")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
