"""The rules themselves. Add a rule by appending a ``Rule`` to ``RULES``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..report.model import TestEntry


@dataclass(frozen=True)
class Finding:
    category: str
    title: str
    why: str
    fix: str
    rule: str


@dataclass
class Facts:
    """Everything a rule may look at, extracted once per entry."""

    kind: str | None
    shape: str | None
    errors: dict[str, str]  # backend -> "Type: message"
    sql: str  # all SQL of both legs (upper-cased), for feature detection
    diff_sql: str  # SQL of the first differing statement (upper-cased), if any
    outcomes: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)

    def error(self, backend: str) -> str:
        return self.errors.get(backend, "")

    def any_error(self, pattern: str) -> bool:
        return any(re.search(pattern, e, re.I) for e in self.errors.values())


@dataclass(frozen=True)
class Rule:
    name: str
    category: str
    title: str
    why: str
    fix: str
    matches: Callable[[Facts], bool]


def facts_of(entry: TestEntry) -> Facts:
    errors, sqls, outcomes = {}, [], {}
    for name, leg in entry.legs.items():
        outcomes[name] = leg.outcome
        if leg.error is not None:
            errors[name] = f"{leg.error.type}: {leg.error.message}"
        for stmt in leg.statements or []:
            sqls.append(str(stmt.get("sql", "")))
            if stmt.get("error"):
                errors.setdefault(name, f"{stmt['error'].get('type')}: {stmt['error'].get('message')}")
    first = entry.first_difference or {}
    diff_sql = " ".join(str(s) for s in (first.get("sql") or {}).values())
    return Facts(
        kind=entry.kind,
        shape=first.get("shape"),
        errors=errors,
        sql="\n".join(sqls).upper(),
        diff_sql=diff_sql.upper(),
        outcomes=outcomes,
        values=first.get("values") or {},
    )


def explain_entry(entry: TestEntry) -> Finding | None:
    facts = facts_of(entry)
    for rule in RULES:
        try:
            matched = rule.matches(facts)
        except Exception:  # a rule must never break the report
            matched = False
        if matched:
            return Finding(rule.category, rule.title, rule.why, rule.fix, rule.name)
    return None


RULES: list[Rule] = []


def rule(name: str, category: str, title: str, why: str, fix: str) -> Callable:
    def register(fn: Callable[[Facts], bool]) -> Callable[[Facts], bool]:
        RULES.append(Rule(name, category, title, why, fix, fn))
        return fn

    return register


@rule(
    "arrays-unsupported",
    "arrays",
    "ARRAY columns exist only on PostgreSQL",
    "SQLite has no array type: a table with an ARRAY column cannot be created, "
    "and array operators (ANY, @>, unnest) do not exist.",
    "Model the list as a child table (one row per element), or store it in a JSON column "
    "and query it with portable JSON operations.",
)
def _arrays(f: Facts) -> bool:
    return f.any_error(r"ARRAY|can't render element of type ARRAY") or "ARRAY[" in f.sql


@rule(
    "fk-not-enforced",
    "constraints",
    "Foreign keys are not enforced by SQLite by default",
    "SQLite ignores FOREIGN KEY constraints unless `PRAGMA foreign_keys=ON` is set on "
    "every connection; PostgreSQL always enforces them.",
    "Enable the pragma in the application's SQLite engine (and in tests via "
    "`dualdb_sqlite_pragmas = foreign_keys=ON`), or run the suite on PostgreSQL.",
)
def _fk(f: Facts) -> bool:
    return f.any_error(r"foreign key")


@rule(
    "aborted-transaction",
    "transactions",
    "PostgreSQL aborts the whole transaction after an error",
    "After any error inside a transaction PostgreSQL refuses every further statement "
    "until ROLLBACK; SQLite keeps going with the statements that follow.",
    "Wrap the statement that may fail in a savepoint (`with session.begin_nested():`) "
    "and handle the error there, or roll back before continuing.",
)
def _aborted(f: Facts) -> bool:
    return f.any_error(r"current transaction is aborted|InFailedSqlTransaction")
