"""What the rules look at, extracted once per diverged test entry.

A rule should not dig through the report structure itself: ``Facts`` gives
it the errors each engine raised (leg error and statement errors, with the
engines' error codes), the SQL of the statement where the legs parted (the
*focus*: the failing statement of an outcome divergence, the first differing
statement of a value divergence, or the statement an observed value came
from), all SQL of the test, the shape of the difference, and the values.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from dualdb.sql import constructs, statement_shape
from dualdb.compare import classify
from dualdb.normalize import canonical_text
from dualdb.records import CapturedStatement, Difference

BACKENDS = ("sqlite", "postgresql")


@dataclass
class Facts:
    kind: str | None
    shape: str | None
    source: str | None
    failing: set[str]
    errors: dict[str, str]  # backend -> "Type: message" (leg error + every statement error)
    codes: dict[str, set[str]]
    sql: str  # all SQL of both legs, upper-cased
    sql_by: dict[str, str]
    focus: str  # SQL of the statement where the legs parted (both dialects), upper-cased
    focus_by: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    params: str = ""  # canonical text of the focus statement's parameters
    all_params: str = ""  # canonical text of every statement's parameters
    ordered: bool = False
    notes: list[str] = field(default_factory=list)
    order_by: list | None = None  # [[type name, nullable], ...] of the differing statement's ORDER BY
    order_keys: list | None = None  # result positions of that ORDER BY's keys (when ``values`` are its rows)
    statements_by: dict[str, list[CapturedStatement]] = field(default_factory=dict)  # every statement of each leg
    focus_index: dict[str, int] = field(default_factory=dict)  # position of the focus statement in each leg

    def one_sided(self, pattern: str) -> bool:
        """The error pattern occurs on exactly one engine (so it is part of the divergence)."""
        hits = [b for b in BACKENDS if re.search(pattern, self.errors.get(b, ""), re.I)]
        return len(hits) == 1

    def order_types(self) -> list[str]:
        return [str(t or "") for t, _ in (self.order_by or [])]

    def order_nullable(self) -> bool:
        return any(n is True for _, n in (self.order_by or []))

    def order_on_text(self) -> bool:
        return any(re.search(r"String|Text|VARCHAR|CHAR|Unicode|Enum", t, re.I) for t in self.order_types())

    # -- errors --------------------------------------------------------------------
    def error(self, backend: str) -> str:
        return self.errors.get(backend, "")

    def any_error(self, pattern: str) -> bool:
        return any(re.search(pattern, e, re.I) for e in self.errors.values())

    def error_on(self, backend: str, pattern: str) -> bool:
        return bool(re.search(pattern, self.errors.get(backend, ""), re.I))

    def only_fails(self, backend: str) -> bool:
        return self.failing == {backend}

    def code(self, *codes: str) -> bool:
        return any(c in found for found in self.codes.values() for c in codes)

    # -- SQL -----------------------------------------------------------------------
    def constructs(self, backend: str | None = None) -> frozenset[str]:
        """SQL constructs of the statement where the legs parted (``LIKE``, ``ORDER BY``, functions)."""
        names = (backend,) if backend else BACKENDS
        found: set[str] = set()
        for name in names:
            for statement in filter(None, (self.focus_by.get(name) or "").split("\n")):
                found |= constructs(statement, name)
        return frozenset(found)

    def in_focus(self, pattern: str, backend: str | None = None) -> bool:
        text = self.focus_by.get(backend, "") if backend else self.focus
        return bool(re.search(pattern, text, re.I))

    def in_sql(self, pattern: str, backend: str | None = None) -> bool:
        text = self.sql_by.get(backend, "") if backend else self.sql
        return bool(re.search(pattern, text, re.I))

    # -- values --------------------------------------------------------------------
    def values_differ(self) -> bool:
        """The premise of a value rule: the focus statement's results do differ."""
        shown = [canonical_text(self.values.get(b)) for b in BACKENDS if b in self.values]
        return len(shown) == 2 and shown[0] != shown[1]

    @property
    def is_value_difference(self) -> bool:
        return bool(self.values) and self.shape not in (None, "error")

    def strings(self) -> list[str]:
        out: list[str] = []
        for value in self.values.values():
            _collect_strings(value, out)
        return out

    def texts_non_ascii(self) -> bool:
        return any(not s.isascii() for s in self.strings()) or not self.params.isascii()

    def column_values(self, backend: str, column: int = 0) -> list[Any] | None:
        """One column of the differing rows (or the observed list itself)."""
        value = self.values.get(backend)
        if not isinstance(value, list):
            return None
        out = []
        for row in value:
            if isinstance(row, list):
                if column >= len(row):
                    return None
                out.append(row[column])
            else:
                out.append(row)
        return out

    def is_rotation(self) -> bool:
        """The second leg's rows are the first's with a block moved from one end to the other
        (what NULLs sorting first on one engine and last on the other do to a result)."""
        a, b = self.values.get(BACKENDS[0]), self.values.get(BACKENDS[1])
        if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b) or a == b:
            return False
        keys_a, keys_b = self.sort_keys(BACKENDS[0]), self.sort_keys(BACKENDS[1])
        if keys_a is not None and keys_b is not None:  # the sort key is what moved, not the other cells
            ta, tb = [canonical_text(x) for x in keys_a], [canonical_text(x) for x in keys_b]
        else:
            ta, tb = [canonical_text(x) for x in a], [canonical_text(x) for x in b]
        return ta != tb and any(tb == ta[k:] + ta[:k] for k in range(1, len(ta)))

    def sort_keys(self, backend: str) -> list | None:
        """The ORDER BY key values of each differing row (when the keys are selected columns)."""
        rows = self.values.get(backend)
        keys = self.order_keys
        if not keys or not isinstance(rows, list):
            return None
        out = []
        for row in rows:
            if not isinstance(row, list) or max(keys) >= len(row):
                return None
            out.append([row[k] for k in keys])
        return out

    def differing_columns(self) -> list[str | None]:
        """Names of the result columns whose values differ (rows compared position by position)."""
        a, b = self.values.get(BACKENDS[0]), self.values.get(BACKENDS[1])
        index = self.focus_index.get(BACKENDS[0])
        statements = self.statements_by.get(BACKENDS[0]) or []
        if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b) or not isinstance(index, int) \
                or not 0 <= index < len(statements):
            return []
        names = statements[index].columns or []
        found: list[str | None] = []
        for row_a, row_b in zip(a, b):
            if not isinstance(row_a, list) or not isinstance(row_b, list) or len(row_a) != len(row_b):
                return []
            for k, (x, y) in enumerate(zip(row_a, row_b)):
                if canonical_text(x) != canonical_text(y):
                    name = names[k] if k < len(names) else None
                    if name not in found:
                        found.append(name)
        return found

    def ties_resolved_differently(self) -> bool:
        """Both engines returned rows with the same sequence of sort keys, but other rows or in
        another order: rows tied on the key were ordered (or cut at a LIMIT) differently."""
        keys_a, keys_b = self.sort_keys(BACKENDS[0]), self.sort_keys(BACKENDS[1])
        if keys_a is None or keys_b is None or len(keys_a) < 2:
            return False
        same_keys = canonical_text(keys_a) == canonical_text(keys_b)
        tied = len({canonical_text(k) for k in keys_a}) < len(keys_a)
        return same_keys and tied and self.values_differ()

    def collation_order(self) -> bool:
        """SQLite's strings are in byte order and PostgreSQL's in a linguistic order.

        The ORDER BY key columns are looked at when they are known; otherwise
        any text column of the rows that is sorted that way on both sides counts.
        """
        a_rows = self.values.get(BACKENDS[0])
        b_rows = self.values.get(BACKENDS[1])
        if not isinstance(a_rows, list) or not isinstance(b_rows, list) or len(a_rows) != len(b_rows):
            return False
        if self.order_keys:
            columns = [k for k in self.order_keys if isinstance(k, int)]
        else:
            first = a_rows[0] if a_rows else None
            columns = list(range(min(len(first), 32))) if isinstance(first, list) else [0]
        for column in columns:
            a = self.column_values(BACKENDS[0], column)
            b = self.column_values(BACKENDS[1], column)
            if not a or not b or len(a) != len(b) or len(a) < 2 or a == b:
                continue
            if not all(isinstance(x, str) for x in a + b) or sorted(a) != sorted(b):
                continue
            for reverse in (False, True):
                if a == sorted(a, reverse=reverse) and any(
                    b == sorted(b, key=key, reverse=reverse) for key in (linguistic_key, libc_linguistic_key)
                ):
                    return True
        return False

    # -- the statements of a leg -----------------------------------------------------
    def before_focus(self, backend: str) -> list[CapturedStatement]:
        """The statements the leg ran before the focus statement (all of them when it is unknown)."""
        statements = self.statements_by.get(backend) or []
        index = self.focus_index.get(backend)
        return list(statements[:index]) if isinstance(index, int) else list(statements)

    def repeated_reads(self, backend: str) -> dict[str, list[str]]:
        """``{statement shape + params: [result, ...]}`` of the reads the leg ran more than once."""
        out: dict[str, list[str]] = {}
        for stmt in self.statements_by.get(backend) or []:
            sql = stmt.sql
            if stmt.rows is None or stmt.error or not re.match(r"\s*(SELECT|WITH)\b", sql, re.I):
                continue
            key = f"{statement_shape(sql)}|{canonical_text(stmt.params)}"
            out.setdefault(key, []).append(canonical_text(stmt.rows))
        return {k: v for k, v in out.items() if len(v) > 1}


def linguistic_key(text: str) -> tuple:
    """An approximation of ICU's root collation: letters before case before accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return (base.casefold(), base.swapcase(), text)


def libc_linguistic_key(text: str) -> tuple:
    """An approximation of glibc's ``en_US.UTF-8``: as ICU's, except that spaces and punctuation
    are ignored at the first level (``_draft`` sorts as ``draft``, after ``beta``). A server
    without ICU, such as the pip wheel's with the locale the plugin builds, sorts this way."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if c.isalnum())
    return (letters.casefold(), *linguistic_key(text))


def _collect_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for v in value:
            _collect_strings(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_strings(v, out)


def facts_of(entry: Any) -> Facts:
    """Extract the facts of a ``TestEntry``."""
    legs = entry.legs
    first = entry.first_difference or Difference(None, {}, None)  # type: ignore[arg-type]
    kind = entry.kind
    source = first.source
    errors: dict[str, str] = {}
    codes: dict[str, set[str]] = {}
    sql_by: dict[str, str] = {}
    failing: set[str] = set()
    params_all: list[str] = []
    for name in BACKENDS:
        leg = legs.get(name)
        if leg is None:
            sql_by[name] = ""
            continue
        parts = []
        if leg.outcome in ("failed", "error"):
            failing.add(name)
        err = leg.error
        if err:
            parts.append(f"{err.type}: {err.message}")
        for stmt in leg.statements:
            e = stmt.error
            if e:
                parts.append(f"{e.type}: {e.message}")
                if e.code:
                    codes.setdefault(name, set()).add(str(e.code))
            params_all.append(canonical_text(stmt.params))
        if parts:
            errors[name] = "\n".join(parts)
        sql_by[name] = "\n".join(s.sql for s in leg.statements).upper()

    shape = first.shape
    values = first.values
    diff_sql = first.sql or {}
    params = first.params
    ordered = first.ordered
    evidence = first.statement
    order_by = first.order_by
    order_keys = None
    focus_index: dict[str, int] = {}
    statements = {name: list(legs[name].statements) if name in legs else [] for name in BACKENDS}
    if source == "statement":
        focus_index = _indices(first)
        order_keys = _raw_order_keys(statements, focus_index)
    picked = _observation_evidence(statements, values, evidence) if source == "observation" else None
    if picked is not None:
        # the statement the observed value came from says more than the value alone
        shape, values = picked["shape"], picked["values"]
        params, ordered = picked["params"], picked["ordered"]
        order_by, order_keys = picked["order_by"], picked["order_keys"]
        diff_sql, focus_index = picked["sql"], picked["index"]
    elif evidence is not None and (
        source == "observation" or (source == "outcome" and _assertion_failure(legs))
    ):
        # the statement where the legs parted says more than the assertion or the observed value
        shape, values = evidence.shape, evidence.values
        params, ordered = evidence.params, evidence.ordered
        order_by = evidence.order_by
        diff_sql = evidence.sql or diff_sql
        focus_index = _indices(evidence)
        order_keys = _raw_order_keys(statements, focus_index)
    elif evidence is not None:
        diff_sql = evidence.sql or diff_sql
        focus_index = _indices(evidence)
    focus_by: dict[str, str] = {}
    failing_stmt = {name: _failing_sql(legs[name]) if name in legs else None for name in BACKENDS}
    for name in BACKENDS:
        text = failing_stmt.get(name) if source == "outcome" else None
        if not text and isinstance(diff_sql, dict):
            text = diff_sql.get(name)
        if not text and source == "observation":
            text = _observation_source(legs[name].statements if name in legs else [], values.get(name))
        focus_by[name] = str(text or "").upper()
    if source == "outcome":
        # the failing statement is on one leg only: show the other leg's corresponding SQL too
        for name in BACKENDS:
            if not focus_by[name] and isinstance(diff_sql, dict) and diff_sql.get(name):
                focus_by[name] = str(diff_sql[name]).upper()
    if not any(focus_by.values()) and not (source == "observation" and evidence is None):
        # (an observed value that no statement produced differently: its difference is in the
        # value itself, and the test's SQL is no premise for explaining it)
        focus_by = dict(sql_by)
    return Facts(
        kind=kind,
        shape=shape,
        source=source,
        failing=failing,
        errors=errors,
        codes=codes,
        sql="\n".join(sql_by.values()),
        sql_by=sql_by,
        focus="\n".join(focus_by.values()),
        focus_by=focus_by,
        values=values if isinstance(values, dict) else {},
        params=canonical_text(params) if params is not None else "",
        all_params="\n".join(params_all),
        ordered=ordered,
        notes=list(entry.harness_notes),
        order_by=order_by if isinstance(order_by, list) else None,
        order_keys=order_keys if isinstance(order_keys, list) else None,
        statements_by=statements,
        focus_index=focus_index,
    )


def _indices(diff: Difference) -> dict[str, int]:
    """Positions of a statement difference's two statements in their legs."""
    out = {}
    for name, position in zip(BACKENDS, (diff.index, diff.index_other)):
        if isinstance(position, int):
            out[name] = position
    return out


def _raw_order_keys(statements: dict[str, list], index: dict[str, int]) -> list | None:
    """The ORDER BY key positions of the SQLite statement at ``index`` (when both legs agree on them)."""
    keys = []
    for name in BACKENDS:
        i = index.get(name)
        stmts = statements.get(name) or []
        if not isinstance(i, int) or not 0 <= i < len(stmts):
            return None
        keys.append(stmts[i].order_keys)
    return list(keys[0]) if keys[0] and keys[0] == keys[1] else None


def _produces(stmt: CapturedStatement, observed: Any) -> Any:
    """How a statement's result holds an observed value: a column position, ``"rows"``, ``"id"``; else None."""
    if stmt.error:
        return None
    rows = stmt.rows
    if isinstance(observed, list):
        if not observed or not isinstance(rows, list) or len(rows) != len(observed):
            return None
        want = [canonical_text(v) for v in observed]
        got = [canonical_text(r) for r in rows]
        if got == want:
            return "rows"
        width = len(rows[0]) if isinstance(rows[0], list) else 0
        for column in range(width):
            col = [canonical_text(r[column]) if isinstance(r, list) and len(r) > column else "" for r in rows]
            if col == want or sorted(col) == sorted(want):
                return column
        return "rows" if sorted(got) == sorted(want) else None
    if isinstance(observed, (dict, type(None))):
        return None
    if isinstance(rows, list):
        if len(rows) == 1 and isinstance(rows[0], list):
            wanted = canonical_text(observed)
            for column, value in enumerate(rows[0]):
                if canonical_text(value) == wanted:
                    return column
        return None
    if type(observed) is int and stmt.lastrowid == observed:
        return "id"
    return None


def _observation_evidence(statements: dict[str, list], observed: Any, evidence: Difference | None) -> dict | None:
    """The pair of statements an observed value came from, as a statement difference.

    The first differing statement (``evidence``) is used when it produced the
    observed value on both legs; otherwise the last statement of the same shape on
    each leg that did (and whose results differ). Multi-column rows are narrowed to
    the observed column so that unrelated columns (a timestamp's offset, say) do not
    hide the difference the test looked at. Without such a statement the evidence
    is used as it is; ``None`` when there is none either.
    """
    if not isinstance(observed, dict):
        return None
    obs = {name: observed.get(name) for name in BACKENDS}
    stmts_a, stmts_b = statements.get(BACKENDS[0]) or [], statements.get(BACKENDS[1]) or []

    def build(i: int, j: int) -> dict | None:
        a, b = stmts_a[i], stmts_b[j]
        ka, kb = _produces(a, obs[BACKENDS[0]]), _produces(b, obs[BACKENDS[1]])
        if ka is None or kb is None:
            return None
        index = {BACKENDS[0]: i, BACKENDS[1]: j}
        order_keys = _raw_order_keys(statements, index)
        if "id" in (ka, kb):
            values = {BACKENDS[0]: [[obs[BACKENDS[0]]]], BACKENDS[1]: [[obs[BACKENDS[1]]]]}
            shape = "new_id"
        elif isinstance(ka, int) and isinstance(kb, int) and isinstance(obs[BACKENDS[0]], list):
            values = {BACKENDS[0]: _column(a.rows, ka), BACKENDS[1]: _column(b.rows, kb)}
            shape, order_keys = classify(values[BACKENDS[0]], values[BACKENDS[1]]), None
        elif evidence is not None and index == _indices(evidence):
            values, shape = evidence.values, evidence.shape
        else:
            values = {BACKENDS[0]: a.rows, BACKENDS[1]: b.rows}
            if not (a.ordered and b.ordered):
                values = {name: _loosely_sorted(rows) for name, rows in values.items()}
            shape = classify(values[BACKENDS[0]], values[BACKENDS[1]])
        if canonical_text(values.get(BACKENDS[0])) == canonical_text(values.get(BACKENDS[1])):
            return None  # the statement agrees on what was observed: the legs parted elsewhere
        return {
            "shape": shape, "values": values, "params": a.params,
            "ordered": a.ordered and b.ordered,
            "order_by": a.order_by, "order_keys": order_keys,
            "sql": {BACKENDS[0]: a.sql, BACKENDS[1]: b.sql}, "index": index,
        }

    if evidence is not None:
        i, j = evidence.index, evidence.index_other
        if isinstance(i, int) and isinstance(j, int) and 0 <= i < len(stmts_a) and 0 <= j < len(stmts_b):
            found = build(i, j)
            if found is not None:
                return found
    shapes_b: list[str] | None = None
    for i in range(len(stmts_a) - 1, -1, -1):
        if _produces(stmts_a[i], obs[BACKENDS[0]]) is None:
            continue
        shape = statement_shape(stmts_a[i].sql)
        if shapes_b is None:
            shapes_b = [statement_shape(s.sql) for s in stmts_b]
        for j in range(len(stmts_b) - 1, -1, -1):
            if shapes_b[j] == shape:
                found = build(i, j)
                if found is not None:
                    return found
    if evidence is None:
        return None
    return {
        "shape": evidence.shape, "values": evidence.values,
        "params": evidence.params, "ordered": evidence.ordered,
        "order_by": evidence.order_by, "order_keys": _raw_order_keys(statements, _indices(evidence)),
        "sql": evidence.sql or {}, "index": _indices(evidence),
    }


def _loosely_sorted(rows: Any) -> Any:
    return sorted(rows, key=lambda r: canonical_text(r).lower()) if isinstance(rows, list) else rows


def _column(rows: Any, column: int) -> list:
    return [r[column] if isinstance(r, list) and len(r) > column else None for r in rows or []]


def _assertion_failure(legs: dict[str, Any]) -> bool:
    """The failing leg failed in the test's own code (an assertion), not in a statement."""
    for leg in legs.values():
        err = leg.error
        if err and not any(s.error.message in (err.message or "") for s in leg.statements if s.error):
            return True
    return False


def _failing_sql(leg: Any) -> str | None:
    """SQL of the statement that raised the leg's error (else of its last failing statement)."""
    message = leg.error.message if leg.error is not None else ""
    last = None
    for stmt in leg.statements:
        e = stmt.error
        if e:
            last = stmt
            if e.message and e.message in (message or ""):
                return stmt.sql
    return last.sql if last is not None else None


def _observation_source(statements: list[CapturedStatement], observed: Any) -> str | None:
    """The statement an observed list most likely came from: its rows hold exactly those items."""
    if not isinstance(observed, list) or not observed:
        return None
    wanted = sorted(canonical_text(v) for v in observed)
    for stmt in reversed(statements):
        rows = stmt.rows
        if not rows or len(rows) != len(observed):
            continue
        width = len(rows[0]) if isinstance(rows[0], list) else 0
        for column in range(width):
            got = sorted(canonical_text(r[column]) for r in rows if isinstance(r, list) and len(r) > column)
            if got == wanted:
                return stmt.sql
        if sorted(canonical_text(r) for r in rows) == wanted:
            return stmt.sql
    return None
