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

from ..normalize import canonical_text

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
    def in_focus(self, pattern: str, backend: str | None = None) -> bool:
        text = self.focus_by.get(backend, "") if backend else self.focus
        return bool(re.search(pattern, text, re.I))

    def in_sql(self, pattern: str, backend: str | None = None) -> bool:
        text = self.sql_by.get(backend, "") if backend else self.sql
        return bool(re.search(pattern, text, re.I))

    # -- values --------------------------------------------------------------------
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
        ta, tb = [canonical_text(x) for x in a], [canonical_text(x) for x in b]
        return any(tb == ta[k:] + ta[:k] for k in range(1, len(ta)))

    def collation_order(self) -> bool:
        """SQLite's strings are in byte order and PostgreSQL's in a linguistic order."""
        for column in range(4):
            a = self.column_values(BACKENDS[0], column)
            b = self.column_values(BACKENDS[1], column)
            if not a or not b or len(a) != len(b):
                return False
            if not all(isinstance(x, str) for x in a + b):
                continue
            if a == b:
                continue
            if len(a) < 2 or sorted(a) != sorted(b):
                return False
            for reverse in (False, True):
                if a == sorted(a, reverse=reverse) and b == sorted(b, key=linguistic_key, reverse=reverse):
                    return True
            return False
        return False


def linguistic_key(text: str) -> tuple:
    """An approximation of ICU's root collation: letters before case before accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return (base.casefold(), base.swapcase(), text)


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
    """Extract the facts of a ``TestEntry`` (report model objects or plain dicts)."""
    legs = _legs(entry)
    first = _get(entry, "first_difference") or {}
    kind = _get(entry, "kind")
    source = first.get("source")
    errors: dict[str, str] = {}
    codes: dict[str, set[str]] = {}
    sql_by: dict[str, str] = {}
    failing: set[str] = set()
    params_all: list[str] = []
    for name in BACKENDS:
        leg = legs.get(name) or {}
        parts = []
        if leg.get("outcome") in ("failed", "error"):
            failing.add(name)
        err = leg.get("error")
        if err:
            parts.append(f"{err.get('type')}: {err.get('message')}")
        for stmt in leg.get("statements") or []:
            e = stmt.get("error")
            if e:
                parts.append(f"{e.get('type')}: {e.get('message')}")
                if e.get("code"):
                    codes.setdefault(name, set()).add(str(e["code"]))
            params_all.append(canonical_text(stmt.get("params")))
        if parts:
            errors[name] = "\n".join(parts)
        sql_by[name] = "\n".join(str(s.get("sql") or "") for s in leg.get("statements") or []).upper()

    shape = first.get("shape")
    values = first.get("values") or {}
    diff_sql = first.get("sql") or {}
    params = first.get("params")
    ordered = bool(first.get("ordered"))
    evidence = first.get("statement") if isinstance(first.get("statement"), dict) else None
    order_by = first.get("order_by")
    if evidence is not None and (
        source == "observation" or (source == "outcome" and _assertion_failure(legs))
    ):
        # the statement where the legs parted says more than the assertion or the observed value
        shape, values = evidence.get("shape"), evidence.get("values") or {}
        params, ordered = evidence.get("params"), bool(evidence.get("ordered"))
        order_by = evidence.get("order_by")
        diff_sql = evidence.get("sql") or diff_sql
    elif evidence is not None:
        diff_sql = evidence.get("sql") or diff_sql
    focus_by: dict[str, str] = {}
    failing_stmt = {name: _failing_sql(legs.get(name) or {}) for name in BACKENDS}
    for name in BACKENDS:
        text = failing_stmt.get(name) if source == "outcome" else None
        if not text and isinstance(diff_sql, dict):
            text = diff_sql.get(name)
        if not text and source == "observation":
            text = _observation_source(legs.get(name) or {}, values.get(name))
        focus_by[name] = str(text or "").upper()
    if source == "outcome":
        # the failing statement is on one leg only: show the other leg's corresponding SQL too
        for name in BACKENDS:
            if not focus_by[name] and isinstance(diff_sql, dict) and diff_sql.get(name):
                focus_by[name] = str(diff_sql[name]).upper()
    if not any(focus_by.values()):
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
        notes=list(_get(entry, "harness_notes") or []),
        order_by=order_by if isinstance(order_by, list) else None,
    )


def _assertion_failure(legs: dict[str, dict]) -> bool:
    """The failing leg failed in the test's own code (an assertion), not in a statement."""
    for leg in legs.values():
        err = leg.get("error") or {}
        if err and not any((s.get("error") or {}).get("message") in (err.get("message") or "") for s in leg.get("statements") or [] if s.get("error")):
            return True
    return False


def _failing_sql(leg: dict[str, Any]) -> str | None:
    """SQL of the statement that raised the leg's error (else of its last failing statement)."""
    err = leg.get("error") or {}
    last = None
    for stmt in leg.get("statements") or []:
        e = stmt.get("error")
        if e:
            last = stmt
            if e.get("message") and e["message"] in (err.get("message") or ""):
                return str(stmt.get("sql") or "")
    return str(last.get("sql") or "") if last is not None else None


def _observation_source(leg: dict[str, Any], observed: Any) -> str | None:
    """The statement an observed list most likely came from: its rows hold exactly those items."""
    if not isinstance(observed, list) or not observed:
        return None
    wanted = sorted(canonical_text(v) for v in observed)
    for stmt in reversed(leg.get("statements") or []):
        rows = stmt.get("rows")
        if not rows or len(rows) != len(observed):
            continue
        width = len(rows[0]) if isinstance(rows[0], list) else 0
        for column in range(width):
            got = sorted(canonical_text(r[column]) for r in rows if isinstance(r, list) and len(r) > column)
            if got == wanted:
                return str(stmt.get("sql") or "")
        if sorted(canonical_text(r) for r in rows) == wanted:
            return str(stmt.get("sql") or "")
    return None


def _get(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def _legs(entry: Any) -> dict[str, dict[str, Any]]:
    raw = _get(entry, "legs") or {}
    out = {}
    for name, leg in raw.items():
        if isinstance(leg, dict):
            out[name] = leg
            continue
        error = getattr(leg, "error", None)
        out[name] = {
            "outcome": getattr(leg, "outcome", None),
            "error": None if error is None else {"type": error.type, "message": error.message},
            "statements": list(getattr(leg, "statements", None) or []),
            "observations": list(getattr(leg, "observations", None) or []),
        }
    return out
