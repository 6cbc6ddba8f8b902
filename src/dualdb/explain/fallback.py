"""The explanation of last resort: a category, a why and a fix for every divergence.

When no rule of the catalog matches, the divergence is still classified from
facts that hold in code nobody here has seen — never from a probe's wording:

1. the error one engine raised: PostgreSQL's SQLSTATE (class 22 data
   exceptions, 23 integrity, 40/55P03 concurrency, 42 syntax and types, 25
   transaction state) and SQLite's extended result codes and messages;
2. the shape of the value difference (naive vs aware, a number vs a string,
   JSON vs text, the same rows in another order, NULLs moved ...);
3. the SQL constructs of the statement where the legs parted, parsed with
   sqlglot (``LIKE``, ``GROUP BY``, JSON functions, ``AVG``, ``LIMIT`` ...);
4. the kinds of value in the differing cells.

The text then says concretely what differed — the statement, the error with
its code, both values — and gives the portable fix of that category.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dualdb.normalize import canonical_text
from dualdb.explain.facts import BACKENDS, Facts

ENGINE = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class Category:
    """What a fallback says for one category: its title and the portable fix."""

    title: str
    fix: str


CATEGORY_TEXT = {
    "constraints": Category(
        "A constraint is enforced on one engine only",
        "Make the data valid before it reaches the database (the constraint is what production "
        "enforces); on SQLite, turn on what PostgreSQL always checks (`PRAGMA foreign_keys=ON`, "
        "`dualdb_sqlite_pragmas`) so the suite sees the same errors.",
    ),
    "types": Category(
        "The engines treat a value's type differently",
        "Send values of the column's declared type and compare like with like: cast explicitly "
        "(`cast(x, Integer)`), use `Boolean` columns with `is_(True)`, pass `uuid.UUID` objects to "
        "`Uuid` columns; SQLite's type affinity accepts what PostgreSQL rejects.",
    ),
    "numeric": Category(
        "Arithmetic gives another result or type on the two engines",
        "Say the type of the result: `cast(x, Numeric(12, 2))` before dividing or averaging, "
        "`func.round(cast(x, Numeric), 2)`, and use `Numeric` rather than `Float` for money.",
    ),
    "strings": Category(
        "Text is stored or compared differently",
        "Validate lengths in the application (`String(n)` is enforced by PostgreSQL only), and use "
        "SQLAlchemy's portable string operators (`concat`, `func.substr`, `ilike`).",
    ),
    "datetime": Category(
        "Timestamps come back in another form",
        "Store timestamps in one form on both engines: set them in Python "
        "(`default=lambda: datetime.now(timezone.utc)`) rather than with the database clock, use "
        "`DateTime(timezone=True)` consistently, and serialise aware UTC values in responses.",
    ),
    "collation": Category(
        "Text comparison follows each engine's collation",
        "Decide the comparison the application needs and say it: `ilike` for case-insensitive "
        "search, `order_by(func.lower(col), col)` for case-insensitive order.",
    ),
    "ordering": Category(
        "Rows come back in another order",
        "Give every query whose order matters a complete ORDER BY, ending in a unique column "
        "(`order_by(Model.created_at, Model.id)`), before LIMIT/OFFSET.",
    ),
    "nulls": Category(
        "NULLs are handled differently",
        "Say where NULLs go (`nulls_last()`), and compare with `is_(None)` / `coalesce` rather than "
        "relying on an engine's NULL handling.",
    ),
    "json": Category(
        "JSON is stored or queried differently",
        "Query JSON with SQLAlchemy's typed accessors (`col['key'].as_string()`), compare parsed "
        "values, and keep JSON columns typed `JSON` on both engines.",
    ),
    "arrays": Category(
        "Lists are handled with each engine's own features",
        "Model lists portably (a child table, or a JSON column) or keep the array code behind a "
        "dialect check and test it on PostgreSQL.",
    ),
    "sql_syntax": Category(
        "SQL that one engine accepts and the other does not",
        "Build the statement with SQLAlchemy constructs, which render each dialect's syntax, "
        "instead of raw SQL; use generic functions (`func.coalesce`, `func.count`).",
    ),
    "isolation": Category(
        "Concurrent transactions behave differently",
        "Don't rely on SQLite's database-wide lock: take row locks explicitly "
        "(`with_for_update()`), retry serialization failures, and test concurrency on PostgreSQL.",
    ),
    "transactions": Category(
        "The transaction is handled differently",
        "Roll back (or use a savepoint, `session.begin_nested()`) after a failed statement "
        "before using the transaction again.",
    ),
    "sequences": Category(
        "Generated ids differ",
        "Don't assume ids: let the database assign them and use the returned object's `.id`; "
        "after seeding explicit ids on PostgreSQL, advance the sequence (`setval`).",
    ),
    "other": Category(
        "The engines behave differently here",
        "Run this test on PostgreSQL and read the statement and values below; make the code say "
        "exactly what it needs (an ORDER BY, a cast, an explicit check) instead of relying on "
        "one engine's default behaviour.",
    ),
}

# SQLSTATE (exact, then by class) -> category
SQLSTATE_CATEGORIES = {
    "22001": "strings", "22003": "numeric", "22012": "numeric", "2201W": "sql_syntax", "2201X": "sql_syntax",
    "22007": "datetime", "22008": "datetime", "22P02": "types", "22P05": "strings", "22021": "strings",
    "42883": "sql_syntax", "42804": "types", "42846": "types", "42725": "types", "42601": "sql_syntax",
    "42803": "sql_syntax", "42P10": "sql_syntax", "42703": "sql_syntax", "42P01": "other", "42704": "sql_syntax",
    "0A000": "sql_syntax", "40001": "isolation", "40P01": "isolation", "55P03": "isolation", "25P02": "transactions",
    "23505": "constraints", "23503": "constraints", "23502": "constraints", "23514": "constraints",
}
SQLSTATE_CLASSES = {"22": "types", "23": "constraints", "40": "isolation", "25": "transactions", "42": "sql_syntax",
                    "0A": "sql_syntax", "55": "isolation"}
SQLSTATE_NAMES = {
    "22001": "value too long for the column", "22003": "number out of range", "22012": "division by zero",
    "2201W": "invalid LIMIT", "2201X": "invalid OFFSET", "22007": "invalid datetime format",
    "22008": "datetime field out of range", "22P02": "invalid text representation", "42883": "undefined function or operator",
    "42804": "datatype mismatch", "42846": "cannot cast", "42601": "syntax error", "42803": "grouping error",
    "42703": "undefined column", "42P01": "undefined table", "40001": "serialization failure", "40P01": "deadlock",
    "55P03": "lock not available", "25P02": "transaction aborted", "23505": "unique violation",
    "23503": "foreign key violation", "23502": "not-null violation", "23514": "check violation",
}
# SQLite messages (lower case fragments) -> category
SQLITE_MESSAGES = (
    ("constraint failed", "constraints"), ("datatype mismatch", "types"), ("no such function", "sql_syntax"),
    ("syntax error", "sql_syntax"), ("database is locked", "isolation"), ("no such column", "sql_syntax"),
    ("misuse of aggregate", "sql_syntax"), ("integer overflow", "numeric"), ("too many terms", "sql_syntax"),
)
# Python-side errors while the driver/SQLAlchemy converted a value
PYTHON_MESSAGES = (
    ("offset-naive and offset-aware", "datetime"), ("datetime", "datetime"), ("isoformat", "datetime"),
    ("json", "json"), ("decimal", "numeric"), ("uuid", "types"), ("invalid literal for int", "types"),
)
SHAPE_CATEGORIES = {
    "naive_vs_aware": "datetime", "datetime_form": "datetime", "datetime_vs_string": "datetime",
    "json_vs_text": "json", "number_vs_string": "types", "bool_vs_number": "types", "type": "types",
    "precision": "numeric", "nulls_position": "nulls", "padding": "strings", "new_id": "sequences",
}
# constructs (from sql.constructs) -> category, most telling first
CONSTRUCT_CATEGORIES = (
    ("FOR UPDATE", "isolation"), ("JSON", "json"), ("ARRAY", "arrays"), ("LIKE", "collation"),
    ("COLLATE", "collation"), ("DIVISION", "numeric"), ("AVG", "numeric"), ("ROUND", "numeric"),
    ("SUM", "numeric"), ("STRING_AGG", "sql_syntax"), ("UPDATE FROM", "sql_syntax"), ("NEGATIVE LIMIT", "sql_syntax"),
    ("STRFTIME", "datetime"), ("EXTRACT", "datetime"), ("INTERVAL", "datetime"), ("NOW", "datetime"),
    ("CONCAT", "strings"), ("SUBSTR", "strings"), ("LOWER", "strings"), ("UPPER", "strings"), ("TRIM", "strings"),
    ("LENGTH", "strings"), ("CAST", "types"), ("BARE CONDITION", "types"), ("GROUP BY", "sql_syntax"),
)


def fallback(facts: Facts) -> tuple[str, str, str, str]:
    """``(category, title, why, fix)`` for a divergence no rule of the catalog explains."""
    category, reason = _category(facts)
    text = CATEGORY_TEXT[category]
    why = f"{_what_differed(facts)} {reason}".strip()
    return category, text.title, why, text.fix


def _category(f: Facts) -> tuple[str, str]:
    """The category and the fact it was read from (one sentence)."""
    for backend in BACKENDS:
        for code in sorted(f.codes.get(backend, ())):
            if _one_sided_code(f, code):
                found = SQLSTATE_CATEGORIES.get(code) or SQLSTATE_CLASSES.get(code[:2])
                if found:
                    if code == "42883" and "OPERATOR DOES NOT EXIST" in f.error(backend).upper():
                        found = "types"
                    name = SQLSTATE_NAMES.get(code, "")
                    return found, f"The error code {code}{f' ({name})' if name else ''} names it."
                if code.startswith("SQLITE_CONSTRAINT"):
                    return "constraints", f"SQLite's result code {code} names it."
    for backend in sorted(f.failing):
        message = f.error(backend).lower()
        for fragment, found in SQLITE_MESSAGES + PYTHON_MESSAGES:
            if fragment in message and f.one_sided(fragment):
                return found, f"{ENGINE[backend]}'s error ({fragment}) names it."
    if f.shape in SHAPE_CATEGORIES:
        return SHAPE_CATEGORIES[f.shape], ""
    focus = f.constructs()
    if f.shape == "order":
        if f.order_on_text():
            return "collation", "The rows are ordered by text."
        return "ordering", ""
    if f.shape == "case":
        return ("collation" if {"LIKE", "ORDER BY", "GROUP BY", "DISTINCT"} & focus else "strings"), ""
    for construct, found in CONSTRUCT_CATEGORIES:
        if construct in focus:
            return found, f"The statement uses {construct}."
    if "LIMIT" in focus and "ORDER BY" not in focus:
        return "ordering", "The statement limits rows it never ordered."
    if f.shape == "rowcount":
        return "constraints", "The statement changed another number of rows."
    kinds = _cell_kinds(f)
    if kinds & {"$dt", "$dtz", "$date", "$time", "$masked"}:
        return "datetime", ""
    if "null" in kinds:
        return "nulls", ""
    if "number" in kinds:
        return "numeric", ""
    if "text" in kinds:
        return "strings", ""
    return "other", ""


def _one_sided_code(f: Facts, code: str) -> bool:
    return sum(1 for b in BACKENDS if code in f.codes.get(b, ())) == 1


def _what_differed(f: Facts) -> str:
    """One or two sentences: the statement, the error or both values."""
    parts = []
    statement = _focus_sql(f)
    if statement:
        parts.append(f"At `{_short(statement.split(chr(10))[0], 120)}`")
    if f.failing and len(f.failing) == 1:
        backend = next(iter(f.failing))
        other = next(b for b in BACKENDS if b != backend)
        error = f.error(backend).split("\n")[-1] if f.error(backend) else "an error"
        parts.append(f"{ENGINE[backend]} failed ({_short(error, 200)}) where {ENGINE[other]} did not.")
    elif f.values:
        shown = [f"{ENGINE[b]} gave {_short(canonical_text(f.values.get(b)), 120)}" for b in BACKENDS if b in f.values]
        parts.append("; ".join(shown) + ".")
    text = " ".join(parts)
    if text and statement and not text.startswith("At `"):
        return text
    return text.replace("` ", "`: ", 1) if statement else text


def _focus_sql(f: Facts) -> str:
    """The focus statement as the application sent it (the facts keep it upper-cased)."""
    for backend in BACKENDS:
        index = f.focus_index.get(backend)
        statements = f.statements_by.get(backend) or []
        if isinstance(index, int) and 0 <= index < len(statements):
            return statements[index].sql
    return next((f.focus_by.get(b) for b in BACKENDS if f.focus_by.get(b)), "")


def _cell_kinds(f: Facts) -> set[str]:
    from dualdb.compare import differing_cells

    values = [f.values.get(b) for b in BACKENDS]
    kinds: set[str] = set()
    for x, y in differing_cells(values[0], values[1]) if len(values) == 2 else ():
        for value in _flatten(x) + _flatten(y):
            if value is None:
                kinds.add("null")
            elif isinstance(value, bool):
                kinds.add("bool")
            elif isinstance(value, (int, float)):
                kinds.add("number")
            elif isinstance(value, str):
                kinds.add("text")
            elif isinstance(value, dict) and value:
                kinds.add(str(next(iter(value))))
    return kinds


def _flatten(value: Any) -> list:
    """Rows of another count: the cells of every row."""
    if isinstance(value, list):
        return [cell for item in value for cell in _flatten(item)]
    return [value]


def _short(text: Any, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
