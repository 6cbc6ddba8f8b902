"""The rules themselves. Add a rule with the ``@rule`` decorator; the first match wins.

Rules are ordered from the most specific (an engine's exact error) to the
most general (the shape of a value difference). Each names a category from
the report schema, says in one line what happened, why the engines differ, and how
to fix the *application* code — with the portable SQLAlchemy construct where
one exists. Every rule is exercised by a real SQLite/PostgreSQL divergence in
``tests/runs/test_divergences.py``; ``tests/runs/test_probe_categories.py`` checks the
categories they assign against the teaching catalog's markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from dualdb.sql import statement_shape
from dualdb.normalize import canonical_text
from dualdb.explain.facts import Facts, facts_of
from dualdb.explain.fallback import fallback

SQLITE, PG = "sqlite", "postgresql"


@dataclass(frozen=True)
class Finding:
    category: str
    title: str
    why: str
    fix: str
    rule: str


@dataclass(frozen=True)
class Rule:
    name: str
    category: str
    title: str
    why: str
    fix: str
    matches: Callable[[Facts], bool]


RULES: list[Rule] = []


def rule(name: str, category: str, title: str, why: str, fix: str) -> Callable:
    def register(fn: Callable[[Facts], bool]) -> Callable[[Facts], bool]:
        if any(r.name == name for r in RULES):
            raise ValueError(f"duplicate rule name {name!r}")
        RULES.append(Rule(name, category, title, why, fix, fn))
        return fn

    return register


def explain_entry(entry: Any) -> Finding:
    """The first rule that matches the entry's facts, as a ``Finding``; when none does, the
    category's fallback, which says concretely what differed (``explain/fallback.py``)."""
    facts = facts_of(entry)
    for r in RULES:
        try:
            matched = r.matches(facts)
        except Exception:  # a rule must never break the report
            matched = False
        if matched:
            return Finding(r.category, r.title, r.why, r.fix, r.name)
    category, title, why, fix = fallback(facts)
    return Finding(category, title, why, fix, f"fallback-{category}")


def explain_facts(facts: Facts) -> Rule | None:
    for r in RULES:
        try:
            if r.matches(facts):
                return r
        except Exception:
            continue
    return None


VALUE_SHAPES = ("order", "case", "nulls_position", "count", "value", "rows", "padding", "precision",
                "number_vs_string", "bool_vs_number", "json_vs_text", "datetime_vs_string", "type",
                "naive_vs_aware", "null_vs_value", "new_id", "rowcount", "digest")


def _differs(f: Facts) -> bool:
    """A value difference (or an outcome whose evidence is one) whose two values do differ."""
    return f.shape in VALUE_SHAPES and (f.values_differ() or f.shape in ("rowcount", "digest"))


# ======================================================================================
# transactions (first: an aborted transaction explains every later error of the test)
# ======================================================================================


@rule(
    "aborted-transaction",
    "transactions",
    "PostgreSQL aborts the whole transaction after an error",
    "After any error inside a transaction PostgreSQL refuses every further statement "
    "(`current transaction is aborted, commands ignored until end of transaction block`) "
    "until ROLLBACK; SQLite keeps going with the statements that follow, so code that "
    "catches a database error and carries on works there only.",
    "Run the statement that may fail in a savepoint and handle the error there: "
    "`with session.begin_nested(): ...` (or `connection.begin_nested()`), then continue; "
    "or roll back before continuing. Never swallow a database error and keep using the transaction.",
)
def _aborted(f: Facts) -> bool:
    return f.any_error(r"current transaction is aborted|InFailedSqlTransaction") or f.code("25P02")


# ======================================================================================
# arrays
# ======================================================================================


@rule(
    "arrays-unsupported",
    "arrays",
    "ARRAY columns exist only on PostgreSQL",
    "SQLite has no array type: a table with an ARRAY column cannot be created there, "
    "and array literals and operators (`ARRAY[...]`, `ANY`, `@>`) do not exist.",
    "Model the list as a child table (one row per element, a `relationship()`), or store it "
    "in a `JSON` column and read it with portable JSON accessors.",
)
def _arrays(f: Facts) -> bool:
    return f.any_error(r"\bARRAY\b|can't render element of type ARRAY") or f.in_focus(
        r"ARRAY\s*\[|=\s*ANY\s*\(|\bUNNEST\s*\(|@>|<@|&&"
    )


@rule(
    "array-functions",
    "arrays",
    "List functions exist on one engine only",
    "Lists are handled with each engine's own functions. PostgreSQL has real arrays: "
    "`array_agg`, `unnest`, `array_length`, `cardinality` (SQLite answers `no such function`) "
    "and `json_agg` / `json_array_elements` for JSON lists. SQLite fakes lists with JSON1: "
    "`json_each(doc, '$.path')` unnests one and `json_group_array()` aggregates rows into one; "
    "PostgreSQL has no `json_group_array`, and its `json_each` takes a single argument and "
    "expands an *object*.",
    "Unnest and aggregate in Python (`session.scalars(select(Model.name)).all()`, "
    "`collections.Counter`), or keep the list in a child table and `GROUP BY` it through a "
    "`relationship()`; when one string is enough, `func.aggregate_strings(col, ',')` renders "
    "each engine's aggregate.",
)
def _array_functions(f: Facts) -> bool:
    return f.error_on(SQLITE, r"no such function: (array_agg|unnest|array_length|array_position|"
                      r"array_append|array_remove|array_cat|cardinality|array_to_string|string_to_array|"
                      r"jsonb?_agg|jsonb?_array_elements(_text)?)\b") or f.error_on(
        PG, r"function (json_each|json_tree|json_group_array)\(")


# ======================================================================================
# json
# ======================================================================================


@rule(
    "json-functions",
    "json",
    "JSON functions are named differently on each engine",
    "SQLite's JSON1 functions (`json_extract`, `json_each`, `json_array_length`, "
    "`json_group_array`) do not exist on PostgreSQL, whose own (`jsonb_*`, "
    "`json_array_elements`, `->`/`->>`) do not exist on SQLite.",
    "Use SQLAlchemy's JSON element access, which renders the right operator per engine: "
    "`Model.attrs['key'].as_string()` / `.as_integer()` / `.as_float()` / `.as_boolean()`, "
    "and `Model.attrs[('a', 0)]` for paths.",
)
def _json_functions(f: Facts) -> bool:
    return f.error_on(PG, r"function (json_extract|json_each|json_tree|json_array_length|json_group_array|"
                      r"json_group_object|json_set|json_insert|json_replace|json_remove|json_patch|"
                      r"json_type|json_valid|json_quote)\(") or f.error_on(
        SQLITE, r"no such function: (jsonb_\w+|json_build_\w+|json_agg|json_array_elements\w*|"
        r"json_object_keys|to_jsonb?|row_to_json|json_extract_path\w*|json_populate\w*)")


@rule(
    "json-comparison",
    "json",
    "PostgreSQL's json type cannot be compared with =",
    "On SQLite a JSON column is TEXT, so `attrs = '{...}'` compares strings. PostgreSQL's "
    "`json` type has no equality operator at all (`operator does not exist: json = json`); "
    "`jsonb` compares structurally (key order and spacing ignored) — text comparison never does.",
    "Compare the elements that matter: `Model.attrs['colour'].as_string() == 'red'`. If "
    "whole-document equality is needed, use `JSONB` on PostgreSQL "
    "(`JSON().with_variant(JSONB(), 'postgresql')`) and compare in Python on SQLite.",
)
def _json_comparison(f: Facts) -> bool:
    return f.error_on(PG, r"operator does not exist: (jsonb? (=|<>|!=) \w+|\w+ (=|<>|!=) jsonb?)|"
                      r"could not identify an equality operator for type json")


@rule(
    "json-ordering",
    "json",
    "Ordering or grouping by a raw JSON element",
    "`ORDER BY attrs['rank']` sorts SQLite's JSON text; PostgreSQL's `json` value has no "
    "ordering operator (`could not identify an ordering operator for type json`).",
    "Give the element a SQL type: `order_by(Model.attrs['rank'].as_integer())` (or "
    "`.as_string()`); it sorts numerically and works on both engines.",
)
def _json_ordering(f: Facts) -> bool:
    return f.error_on(PG, r"could not identify an? (ordering|comparison) operator for type jsonb?")


@rule(
    "json-arrow-operator",
    "json",
    "`->>` returns SQL values on SQLite but text on PostgreSQL",
    "SQLite's `->>` (3.38+) returns the JSON value as an SQL value of its own type "
    "(12, 1, 'red'); PostgreSQL's `->>` always returns text ('12', 'true', 'red').",
    "Use `Model.attrs['key'].as_integer()` / `.as_float()` / `.as_boolean()` / `.as_string()` "
    "instead of a hand-written `->>`: SQLAlchemy adds the cast each engine needs.",
)
def _json_arrow(f: Facts) -> bool:
    if f.in_focus(r"JSON_EXTRACT", SQLITE):
        return False  # SQLAlchemy's accessors: see json-scalar-extraction
    return (_differs(f) or bool(f.failing)) and f.in_focus(r"->>")


@rule(
    "json-scalar-extraction",
    "json",
    "A JSON element extracted by key differs between engines",
    "SQLite's `JSON_EXTRACT` turns JSON `true` into 1 and numbers into SQL numbers before the "
    "cast; PostgreSQL's `->>` renders the JSON text (`'true'`). The same `.as_string()` on a "
    "boolean or number element therefore gives '1' on one engine and 'true' on the other. "
    "And SQLite reads the key as a JSON *path* (`$.\"key\"`): a key containing a quote or other "
    "path syntax fails there (`JSON path error`) while PostgreSQL's `->>` takes any text.",
    "Extract with the accessor of the element's real type: `.as_boolean()` for flags, "
    "`.as_integer()` / `.as_float()` for numbers; keep `.as_string()` for JSON strings. Keep "
    "keys to plain names (validate keys that come from users), or read the whole document "
    "(`select(Model.attrs)`) and index it in Python.",
)
def _json_scalar(f: Facts) -> bool:
    if f.error_on(SQLITE, r"JSON path error|bad JSON path") and f.in_focus(r"JSON_EXTRACT|->", SQLITE):
        return True
    return _differs(f) and f.in_focus(r"JSON_EXTRACT", SQLITE) and f.in_focus(r"->>|#>>|->", PG)


@rule(
    "json-text-vs-parsed",
    "json",
    "A JSON column comes back as text on SQLite and as a dict on PostgreSQL",
    "Through raw SQL (`text()`) no result type is known: SQLite returns the stored JSON "
    "text, psycopg parses `json` into Python objects.",
    "Select the column through the model (`select(Model.attrs)`) or declare the result type: "
    "`text('...').columns(attrs=JSON)`; then both engines hand back parsed JSON.",
)
def _json_text(f: Facts) -> bool:
    return f.shape == "json_vs_text"


# ======================================================================================
# collation and ordering of text
# ======================================================================================


@rule(
    "collate-clause",
    "collation",
    "A COLLATE name exists on one engine only",
    "Collation names are engine-specific: SQLite has `NOCASE`, `RTRIM`, `BINARY`; "
    "PostgreSQL has locale/ICU collations (`\"C\"`, `\"en-US-x-icu\"`) and none of SQLite's.",
    "Avoid engine-specific collations in queries: for case-insensitive order use "
    "`order_by(func.lower(Model.name), Model.name)`; if a collation is needed, pick it per "
    "dialect (`Model.name.collate(...)` behind a dialect check) or declare it on the column.",
)
def _collate(f: Facts) -> bool:
    return f.any_error(r"collation \S+ (for encoding \S+ )?does not exist|no such collation sequence")


@rule(
    "nulls-order",
    "nulls",
    "NULLs sort first on SQLite and last on PostgreSQL",
    "In ascending order SQLite puts NULLs first and PostgreSQL puts them last (and the "
    "opposite for DESC), so rows with a NULL sort key move to the other end.",
    "Say where NULLs go: `order_by(Model.due.asc().nulls_last())` (or `nulls_first()`), "
    "supported by both engines (SQLite ≥ 3.30), plus a tiebreaker such as the primary key.",
)
def _nulls(f: Facts) -> bool:
    if f.shape == "nulls_position":
        return True
    if not f.in_focus(r"ORDER BY") or f.collation_order():
        return False
    if f.shape == "order" and f.is_rotation() and (f.order_by is None or f.order_nullable()):
        return True
    # the NULL sort key is not selected: a nullable, non-text key and another first row
    return (
        f.shape in ("value", "order", "count")
        and f.order_nullable()
        and not f.order_on_text()
        and f.in_focus(r"\bLIMIT\b")
    )


@rule(
    "tz-text-ordering",
    "datetime",
    "Timezone-aware timestamps sort by local wall time on SQLite",
    "SQLite stores `DateTime(timezone=True)` values as text of their local time without the "
    "offset, so 10:00+02:00 sorts after 09:00+00:00 although it happened earlier; "
    "PostgreSQL's `timestamptz` sorts by the instant.",
    "Convert to UTC before storing (`value.astimezone(timezone.utc)`), e.g. in a "
    "`TypeDecorator`, so the stored text sorts in time order on SQLite too.",
)
def _tz_ordering(f: Facts) -> bool:
    return f.shape == "order" and '"$dtz"' in f.all_params and any(
        "DateTime" in t or "TIMESTAMP" in t.upper() for t in f.order_types()
    )


@rule(
    "order-by-text-collation",
    "collation",
    "Text sorts bytewise on SQLite and linguistically on PostgreSQL",
    "SQLite compares text byte by byte (`A B a b`, accents after `z`); a production "
    "PostgreSQL database usually has a linguistic collation (`a A b B`, accents next to "
    "their letter). Any ORDER BY on a text column can return another order.",
    "Decide the order the application needs and say it in SQL: case-insensitive "
    "`order_by(func.lower(Model.name), Model.name)`, or a fixed collation on the column "
    "(`String(collation=...)` per dialect). Run the suite on the production collation.",
)
def _order_text(f: Facts) -> bool:
    return f.shape in ("order", "case", "value") and f.collation_order()


@rule(
    "min-max-text",
    "collation",
    "MIN/MAX of text depend on the collation",
    "`max(name)` is the last value in the collation's order: bytewise on SQLite "
    "(`'apple' > 'Banana'`), linguistic on PostgreSQL (`'Banana' > 'apple'`).",
    "Compute on a normalised key (`func.max(func.lower(Model.name))`) or choose the row "
    "explicitly (`order_by(func.lower(Model.name).desc()).limit(1)`).",
)
def _minmax(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"\b(MAX|MIN)\s*\(") and bool(f.strings())


@rule(
    "like-case",
    "collation",
    "LIKE ignores case on SQLite but not on PostgreSQL",
    "SQLite's LIKE is case-insensitive for ASCII letters; PostgreSQL's LIKE is "
    "case-sensitive, so `name LIKE 'al%'` finds 'Alice' only on SQLite.",
    "Say what you mean: `Model.name.ilike('al%')` (SQLAlchemy renders `lower(x) LIKE "
    "lower(y)` on SQLite and ILIKE on PostgreSQL) for case-insensitive search, or "
    "`func.lower(Model.name).like('al%')`.",
)
def _like(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"(?<!I)LIKE\b") and not f.in_focus(r"\bLOWER\s*\(")


@rule(
    "text-range-comparison",
    "collation",
    "Comparing text with < or > depends on the collation",
    "`name >= 'b'` is decided by the collation: bytewise on SQLite ('Bob' < 'b'), "
    "linguistic on PostgreSQL ('b' < 'Bob'); ranges over text select other rows.",
    "Compare on a normalised value (`func.lower(Model.name) >= 'b'`) or use a prefix "
    "match (`Model.name.istartswith('b')`).",
)
def _text_range(f: Facts) -> bool:
    """Premise: the statement compares with a plain text parameter (not a date, a number, a tag)."""
    return (
        _differs(f)
        and f.in_focus(r"(>=|<=|<>|>|<|\bBETWEEN\b)\s*(\?|%\(|'|:)")
        and any(_plain_text(v) for v in _param_values(f.params))
        and not f.in_focus(r"'\d{4}-\d{2}-\d{2}")
    )


def _param_values(params: str) -> list:
    import json

    try:
        values = json.loads(params) if params else []
    except ValueError:
        return []
    return values if isinstance(values, list) else [values]


def _plain_text(value: Any) -> bool:
    return isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value)


@rule(
    "enum-order",
    "ordering",
    "An Enum column sorts by declaration on PostgreSQL and alphabetically on SQLite",
    "SQLAlchemy's `Enum` is a native enum type on PostgreSQL, which sorts in the order the "
    "values were declared (`small < medium < large`); on SQLite it is a VARCHAR, sorted as text "
    "(`large < medium < small`).",
    "Sort on an explicit rank instead of the enum: a `case({...}, value=Model.size)` "
    "expression or a rank column, so both engines use the same order.",
)
def _enum_order(f: Facts) -> bool:
    return f.shape in ("order", "value") and f.values_differ() and any(t == "Enum" for t in f.order_types())


@rule(
    "uuid-as-text",
    "types",
    "A UUID is compared as text in another form than the column stores",
    "SQLAlchemy's `Uuid` type stores 32 hex digits without dashes in SQLite's CHAR(32) and a "
    "native `uuid` on PostgreSQL; a raw query that passes `str(uuid)` (with dashes) matches on "
    "PostgreSQL, which parses it, and finds nothing on SQLite, which compares text.",
    "Pass `uuid.UUID` objects through a typed expression (`select(M).where(M.token == value)`, "
    "or `bindparam('t', type_=Uuid)` in `text()`), never `str(value)`.",
)
def _uuid_text(f: Facts) -> bool:
    """Found on one engine, nothing on the other, looking up by a UUID."""
    rows = [f.values.get(b) for b in (SQLITE, PG)]
    return (
        f.shape == "count"
        and any(r == [] for r in rows)
        and any(isinstance(r, list) and r for r in rows)
        and re.search(r'"\$masked":"uuid4"|"\$uuid"', f.params) is not None
    )


@rule(
    "order-ties",
    "ordering",
    "Rows tied on the ORDER BY key come back in any order",
    "ORDER BY fixes the order of different keys only: rows with equal keys (two products at "
    "the same price) come in whatever order the engine's sort leaves them, which differs "
    "between SQLite and PostgreSQL (and between plans).",
    "Add a unique tiebreaker: `order_by(Product.price, Product.id)`.",
)
def _ties(f: Facts) -> bool:
    if f.ties_resolved_differently():  # also a page cut through a group of ties (LIMIT/OFFSET)
        return True
    return f.shape == "order" and f.in_focus(r"ORDER BY") and not f.collation_order() and not f.is_rotation()


# ======================================================================================
# strings
# ======================================================================================


@rule(
    "ilike",
    "sql_syntax",
    "ILIKE is PostgreSQL syntax",
    "`ILIKE` does not exist in SQLite (`near \"ILIKE\": syntax error`).",
    "Use `Model.name.ilike(pattern)`: SQLAlchemy renders ILIKE on PostgreSQL and "
    "`lower(x) LIKE lower(y)` on SQLite.",
)
def _ilike(f: Facts) -> bool:
    # SQLAlchemy's .ilike() renders lower() LIKE lower() on SQLite: only raw ILIKE reaches it
    return f.error_on(SQLITE, r'near "I?LIKE"') or (f.in_focus(r"\bILIKE\b", SQLITE) and f.only_fails(SQLITE))


@rule(
    "lower-upper-non-ascii",
    "strings",
    "lower()/upper() change only ASCII letters on SQLite",
    "SQLite's built-in `lower()`/`upper()` fold ASCII letters only ('ZÜRICH' becomes "
    "'zÜrich'); PostgreSQL folds every letter using the database's locale. Case-insensitive "
    "search or normalisation of non-English text therefore differs.",
    "Normalise in Python before storing (`str.casefold()`) and compare against the "
    "normalised column, or load an ICU-enabled `lower` into SQLite; on PostgreSQL consider "
    "`citext` or a case-insensitive ICU collation.",
)
def _lower_non_ascii(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"\b(LOWER|UPPER)\s*\(") and f.texts_non_ascii()


@rule(
    "varchar-length",
    "types",
    "String(n) length limits are enforced only by PostgreSQL",
    "SQLite ignores the length in `VARCHAR(n)` and stores any text; PostgreSQL rejects "
    "longer values (`value too long for type character varying(n)`).",
    "Validate lengths in the application (e.g. `@validates` or the API schema) or widen the "
    "column (`String(200)` / `Text`); truncate deliberately if that is the intent.",
)
def _varchar(f: Facts) -> bool:
    return f.any_error(r"value too long for type") or f.code("22001")


@rule(
    "char-padding",
    "strings",
    "CHAR(n) values come back blank-padded on PostgreSQL",
    "PostgreSQL's `CHAR(n)` pads values with spaces to n characters and returns them "
    "padded ('us '); SQLite stores and returns the text as given ('us').",
    "Use `String(n)` (VARCHAR) for codes, or strip where the value is read "
    "(`func.rtrim(Model.code)`); compare with `Model.code == 'us'` works on both.",
)
def _char_padding(f: Facts) -> bool:
    return f.shape == "padding"


@rule(
    "substr-negative",
    "strings",
    "substr() with a negative start differs",
    "SQLite's `substr(x, -3)` counts from the end of the string ('der'); PostgreSQL "
    "counts positions before the start as empty and returns from position 1 ('Alexander').",
    "Use `func.right(Model.name, 3)` on PostgreSQL, or compute suffixes in Python; for "
    "portable SQL use `func.substr(x, func.length(x) - 2)`.",
)
def _substr(f: Facts) -> bool:
    """Premise: a negative start, written in the SQL or bound as a parameter."""
    negative = f.in_focus(r"\bSUBSTR(ING)?\s*\([^;]*?,\s*-\s*\d") or any(
        isinstance(v, int) and not isinstance(v, bool) and v < 0 for v in _param_values(f.params)
    )
    return _differs(f) and f.in_focus(r"\bSUBSTR(ING)?\s*\(") and negative and bool(f.strings())


@rule(
    "string-functions",
    "strings",
    "A string function exists on one engine only",
    "Each engine has its own string helpers: SQLite's `instr`, `printf`, `char`, `glob`; "
    "PostgreSQL's `split_part`, `left`/`right`, `lpad`, `initcap`, `strpos`, `format`.",
    "Use the functions both have (`func.substr`, `func.length`, `func.lower`, `func.replace`, "
    "`func.trim`) or SQLAlchemy's operators (`Model.email.contains('@')`, `startswith`), "
    "and do the rest in Python.",
)
def _string_functions(f: Facts) -> bool:
    return f.error_on(PG, r"function (instr|printf|char|unicode|hex|glob|ltrim|rtrim|trim|substr)\(") or f.error_on(
        SQLITE, r"no such function: (split_part|left|right|initcap|reverse|repeat|lpad|rpad|translate|strpos|"
        r"position|format|concat_ws|btrim|to_hex|md5|ascii|chr|regexp_replace|regexp_split\w*|string_to_array)\b"
    )


@rule(
    "regex-dialect",
    "strings",
    "Regular expressions follow each engine's dialect",
    "`regexp_match()` renders SQLite's REGEXP (Python's `re`, where `\\b` is a word boundary) "
    "and PostgreSQL's `~` (POSIX ARE, where `\\b` is a backspace and `\\y` the word "
    "boundary); the same pattern matches different rows.",
    "Keep patterns to the common subset (no `\\b`, `\\d` inside brackets ...), or match in "
    "Python; for word search prefer `ilike('% red %')` or a full-text index.",
)
def _regex(f: Facts) -> bool:
    return (_differs(f) or bool(f.failing)) and f.in_focus(r"\bREGEXP\b|\s~\*?\s|\bREGEXP_\w+\(")


@rule(
    "concat-function",
    "strings",
    "concat() is missing on SQLite before 3.44",
    "PostgreSQL's `concat()` (which skips NULLs) exists on SQLite only from 3.44; older "
    "SQLite answers `no such function: concat`. `||` exists on both but yields NULL if "
    "any operand is NULL.",
    "Use SQLAlchemy's `+` on string columns (renders `||`) with "
    "`func.coalesce(col, '')` around nullable parts, or `func.concat` only where both "
    "engines have it.",
)
def _concat(f: Facts) -> bool:
    return f.error_on(SQLITE, r"no such function: concat(_ws)?\b")


# ======================================================================================
# SQL syntax and functions
# ======================================================================================


@rule(
    "group-by-bare-column",
    "sql_syntax",
    "Selecting a column that is not grouped",
    "SQLite accepts bare columns next to GROUP BY and picks a value from an arbitrary row; "
    "PostgreSQL requires every selected column to be grouped or aggregated "
    "(`must appear in the GROUP BY clause`).",
    "Group by every selected column (`group_by(Order.customer_id, Order.status)`) or "
    "aggregate it (`func.max(Order.status)`).",
)
def _group_by(f: Facts) -> bool:
    return f.any_error(r"must appear in the GROUP BY clause") or f.code("42803")


@rule(
    "double-quoted-string",
    "sql_syntax",
    "Double quotes are identifiers, not strings",
    "In SQL, `\"nobody\"` names a column. SQLite falls back to treating an unknown "
    "double-quoted identifier as a string literal; PostgreSQL reports "
    "`column \"nobody\" does not exist`.",
    "Use single quotes for strings in raw SQL — better, bind parameters: "
    "`text('... WHERE name <> :name')` with `{'name': 'nobody'}`.",
)
def _double_quoted(f: Facts) -> bool:
    m = re.search(r'column "([^"]+)" does not exist', f.error(PG))
    return bool(m) and f.only_fails(PG) and f'"{m.group(1).upper()}"' in f.sql_by.get(PG, "")


@rule(
    "distinct-on",
    "sql_syntax",
    "DISTINCT ON is PostgreSQL-only",
    "`select(...).distinct(Model.col)` renders `DISTINCT ON (col)` on PostgreSQL (one row "
    "per col); SQLite has no DISTINCT ON and SQLAlchemy renders a plain DISTINCT there, "
    "which keeps every distinct row.",
    "Pick the row per group portably: a window function "
    "(`func.row_number().over(partition_by=..., order_by=...)` in a subquery, filter `= 1`) "
    "or a correlated `max(id)` subquery.",
)
def _distinct_on(f: Facts) -> bool:
    return f.in_focus(r"DISTINCT ON\s*\(", PG) or f.in_sql(r"DISTINCT ON\s*\(", PG) and _differs(f)


@rule(
    "upsert-on-conflict",
    "sql_syntax",
    "Upsert syntax differs between engines",
    "`ON CONFLICT ON CONSTRAINT name` and PostgreSQL's `insert().on_conflict_*` forms are "
    "PostgreSQL's; SQLite supports only `ON CONFLICT (columns) DO ...` (3.24+) and its own "
    "`INSERT OR IGNORE/REPLACE`.",
    "Use the dialect's insert for the engine at hand: `sqlalchemy.dialects.sqlite.insert` "
    "and `sqlalchemy.dialects.postgresql.insert` both offer "
    "`.on_conflict_do_nothing(index_elements=[...])` — name columns, not constraints.",
)
def _upsert(f: Facts) -> bool:
    return f.in_focus(r"ON CONFLICT|INSERT OR (IGNORE|REPLACE)|ON DUPLICATE KEY") and (
        bool(f.failing) or _differs(f)
    )


@rule(
    "returning-limits",
    "sql_syntax",
    "RETURNING can only return the modified table on SQLite",
    "SQLite's RETURNING (3.35+) may reference only the table being changed; PostgreSQL's "
    "may return columns of other tables in `UPDATE ... FROM` and expressions over them.",
    "Return only the modified table's columns (`.returning(Order.id)`) and read related "
    "values in a second query, or join after the update.",
)
def _returning(f: Facts) -> bool:
    return f.only_fails(SQLITE) and f.in_focus(r"\bRETURNING\b", SQLITE) and f.error_on(
        SQLITE, r"no such column|RETURNING"
    )


@rule(
    "string-aggregation",
    "sql_syntax",
    "String aggregation is group_concat on SQLite and string_agg on PostgreSQL",
    "`group_concat()` is SQLite's; PostgreSQL's is `string_agg(x, ',')`. Neither engine "
    "has the other's.",
    "Aggregate in Python (`', '.join(session.scalars(...))`) or use a dialect-aware "
    "construct: `func.aggregate_strings(Model.name, ',')` (SQLAlchemy 2.0.21+) renders the "
    "right function on each engine.",
)
def _string_agg(f: Facts) -> bool:
    return f.any_error(r"function group_concat\(|no such function: string_agg|function listagg")


@rule(
    "set-operation-types",
    "types",
    "UNION of columns with different types",
    "SQLite's UNION accepts any mix of types per column; PostgreSQL requires the types "
    "of each column to match (`UNION types integer and character varying cannot be matched`).",
    "Cast explicitly so the branches agree: `cast(Model.number, String)` in one branch, "
    "or `literal(None, type_=String)` for padding columns.",
)
def _union_types(f: Facts) -> bool:
    return f.any_error(r"(UNION|INTERSECT|EXCEPT|CASE) types .* cannot be matched")


# ======================================================================================
# isolation and locking
# ======================================================================================


@rule(
    "for-update",
    "isolation",
    "Row locking (FOR UPDATE, SKIP LOCKED) exists only on PostgreSQL",
    "SQLite locks the whole database instead of rows and has no `FOR UPDATE`/`SKIP LOCKED`: "
    "written in raw SQL it is a syntax error; through SQLAlchemy's `with_for_update()` it is "
    "silently dropped, so locking behaviour (job queues, counters) is untested on SQLite.",
    "Use `select(...).with_for_update(skip_locked=True)` (portable to compile) and test the "
    "locking path on PostgreSQL with `db_fresh_engine` and two connections.",
)
def _for_update(f: Facts) -> bool:
    return f.in_focus(r"\bFOR (UPDATE|SHARE|NO KEY UPDATE)\b|SKIP LOCKED|\bNOWAIT\b")


@rule(
    "database-locked",
    "isolation",
    "SQLite allows one writer at a time",
    "SQLite locks the whole database file for a writing transaction: a second connection "
    "that writes waits and then fails with `database is locked`. PostgreSQL locks rows, so "
    "two transactions writing different rows proceed concurrently.",
    "Keep write transactions short and test concurrent code paths on PostgreSQL "
    "(`db_fresh_engine`); for SQLite in production use WAL mode and a busy timeout "
    "(`connect_args={'timeout': ...}`).",
)
def _locked(f: Facts) -> bool:
    return f.error_on(SQLITE, r"database( table)? is locked") or f.code("SQLITE_BUSY", "SQLITE_LOCKED")


@rule(
    "isolation-level",
    "isolation",
    "Transaction isolation works differently on each engine",
    "`SET TRANSACTION ISOLATION LEVEL` is PostgreSQL syntax and must come before the "
    "transaction's first query; SQLite has no such statement. And the levels behave "
    "differently: a PostgreSQL REPEATABLE READ / SERIALIZABLE transaction reads one snapshot, "
    "so a query repeated while another connection commits returns the same rows; pysqlite's "
    "default transaction handling does not even begin a transaction for SELECT, so each "
    "SQLite read sees the latest commit.",
    "Set isolation through SQLAlchemy: `engine.execution_options(isolation_level="
    "'SERIALIZABLE')` or `connection.execution_options(isolation_level=...)` before the "
    "transaction begins — SQLAlchemy maps it per dialect; on SQLite make reads transactional "
    "with the pysqlite recipe (`isolation_level=None` on connect, `BEGIN` in a `begin` event) "
    "or `autocommit=False` on Python 3.12+, and test concurrent paths on PostgreSQL "
    "(`db_fresh_engine`, two connections).",
)
def _isolation(f: Facts) -> bool:
    return (f.any_error(r"ISOLATION LEVEL|near \"SET\"") and f.in_sql(r"ISOLATION LEVEL")) or _unrepeatable_read(f)


def _unrepeatable_read(f: Facts) -> bool:
    """A read repeated in the test changed its result on one engine and stayed put on the other."""
    focus = f.focus_by.get(SQLITE, "")
    if not focus or f.shape == "error":
        return False
    prefix = statement_shape(focus) + "|"
    other = f.repeated_reads(PG)
    for key, results in f.repeated_reads(SQLITE).items():
        if key.startswith(prefix) and key in other and (len(set(results)) > 1) != (len(set(other[key])) > 1):
            return True
    return False


# ======================================================================================
# constraints and sequences
# ======================================================================================


@rule(
    "fk-not-enforced",
    "constraints",
    "Foreign keys are not enforced by SQLite by default",
    "SQLite ignores FOREIGN KEY constraints unless `PRAGMA foreign_keys=ON` is set on "
    "every connection; PostgreSQL always enforces them. Their actions go with them: "
    "`ondelete=\"CASCADE\"` / `\"SET NULL\"` never run on SQLite, so deleting a parent "
    "leaves its children behind (orphans pointing at a missing row) where PostgreSQL "
    "deletes or updates them.",
    "Enable the pragma in the application's SQLite engine (an `@event.listens_for(engine, "
    "'connect')` hook; in tests `dualdb_sqlite_pragmas = foreign_keys=ON`), and create "
    "parent rows first; or delete children explicitly before the parent "
    "(`delete(Child).where(Child.parent_id == parent.id)`).",
)
def _fk(f: Facts) -> bool:
    return f.one_sided(r"foreign key") or _cascade_skipped(f)


def _cascade_skipped(f: Facts) -> bool:
    """After a DELETE, a read of another table finds rows (or values) on SQLite that PostgreSQL removed."""
    if f.failing or not _differs(f) or f.shape in ("order", "new_id"):
        return False
    focus = f.focus_by.get(SQLITE, "")
    if not re.match(r"\s*(SELECT|WITH)\b", focus):
        return False
    deleted = set()
    for stmt in f.before_focus(SQLITE):
        m = re.match(r"\s*DELETE\s+FROM\s+\"?(\w+)", stmt.sql, re.I)
        if m and not stmt.error:
            deleted.add(m.group(1).lower())
    read = {t.lower() for t in re.findall(r"\b(?:FROM|JOIN)\s+\"?(\w+)", focus, re.I)}
    if not deleted or not (read - deleted):
        return False
    a, b = f.values.get(SQLITE), f.values.get(PG)
    if f.shape == "null_vs_value":  # SET NULL ran on PostgreSQL only
        return canonical_text(b).count("null") > canonical_text(a).count("null")
    if isinstance(a, list) and isinstance(b, list) and len(a) != len(b):
        return len(a) > len(b)
    na, nb = _flat_numbers(a), _flat_numbers(b)
    return len(na) == len(nb) == 1 and na[0] > nb[0]  # a count


@rule(
    "explicit-id-sequence",
    "sequences",
    "Inserting explicit ids leaves PostgreSQL's sequence behind",
    "SQLite gives a new row `max(rowid) + 1`, so it skips past ids inserted explicitly. "
    "PostgreSQL's sequence knows nothing about them and hands out 1 again: "
    "`duplicate key value violates unique constraint \"..._pkey\"`.",
    "Let the database assign ids (don't pass `id=`), or after loading fixed ids move the "
    "sequence: `SELECT setval(pg_get_serial_sequence('table', 'id'), max(id)) FROM table`.",
)
def _explicit_id(f: Facts) -> bool:
    return f.only_fails(PG) and f.error_on(PG, r'duplicate key value violates unique constraint "\w*_pkey"')


@rule(
    "check-constraint",
    "constraints",
    "A CHECK constraint gives another answer",
    "The constraint's expression is evaluated by each engine's own functions and types: "
    "e.g. `slug = lower(slug)` passes on SQLite for 'Élan' (its lower() leaves É alone) "
    "and fails on PostgreSQL.",
    "Keep CHECK expressions to portable operations, and normalise values in the "
    "application before writing (`slug.lower()` in Python, `@validates`).",
)
def _check(f: Facts) -> bool:
    return f.one_sided(r"check constraint")


@rule(
    "not-null",
    "constraints",
    "A NULL is accepted by one engine only",
    "SQLite turns a NULL written to an `INTEGER PRIMARY KEY` into a new rowid (and allows "
    "NULL in other primary keys); PostgreSQL rejects NULL in NOT NULL and primary-key "
    "columns (`violates not-null constraint`).",
    "Omit the key instead of passing `None` (drop `id` from the dict / values) so the "
    "database default applies on both engines.",
)
def _not_null(f: Facts) -> bool:
    return f.one_sided(r"not-null constraint|NOT NULL constraint")


@rule(
    "unique-index-dialect",
    "constraints",
    "A unique constraint is enforced on one engine only",
    "The unique index differs between the engines — typically a partial index whose "
    "`postgresql_where=` (or `sqlite_where=`) condition exists for one dialect only, or an "
    "expression/collation that compares values differently — so the same rows are "
    "duplicates on one engine and allowed on the other.",
    "Give the index the same definition on both engines (`Index(..., unique=True, "
    "postgresql_where=cond, sqlite_where=cond)`), or enforce the rule in the application.",
)
def _unique_dialect(f: Facts) -> bool:
    unique = r"UNIQUE constraint failed|duplicate key value violates unique"
    return (f.only_fails(SQLITE) and f.error_on(SQLITE, unique) and not f.error_on(PG, unique)) or (
        f.only_fails(PG) and f.error_on(PG, unique) and not f.error_on(SQLITE, unique)
    )


@rule(
    "redirect-rollback-isolation-ids",
    "sequences",
    "Ids differ because the suite rolls each test back (its isolation, not the application)",
    "In --dualdb-redirect mode the suite isolates tests its own way: an earlier test's rows were "
    "rolled back. SQLite then gives the next row the same id again (`max(rowid) + 1`); PostgreSQL "
    "sequences ignore ROLLBACK, so the PostgreSQL leg's new rows got higher ids. In production the "
    "ids would be whatever the sequence says, too.",
    "Don't assert on generated ids (`assert user.id == 1`); use the object the test created or a "
    "natural key. If the suite must rely on ids, reset them in its fixture on PostgreSQL "
    "(`TRUNCATE ... RESTART IDENTITY`, or create and drop the tables per test).",
)
def _redirect_rollback_ids(f: Facts) -> bool:
    if not any(note.startswith("redirect: an earlier test inserted rows") for note in f.notes):
        return False
    return f.shape == "new_id" or bool(re.search(r"\bid\b|\b\d+ == \d+\b", " ".join(f.errors.values()), re.I))


@rule(
    "sequence-gap-after-rollback",
    "sequences",
    "A rolled-back insert still used up a PostgreSQL id",
    "PostgreSQL sequences are never rolled back: a failed or rolled-back INSERT consumes "
    "an id, so the next row gets a higher one. SQLite derives the id from `max(rowid)` "
    "and reuses it.",
    "Never rely on ids being consecutive or predictable; look rows up by a natural key "
    "(`session.scalar(select(User).filter_by(email=...))`) and assert on that.",
)
def _sequence_gap(f: Facts) -> bool:
    return f.shape == "new_id" and bool(f.errors)


@rule(
    "rowid-reuse",
    "sequences",
    "SQLite reuses the id of a deleted last row",
    "Without AUTOINCREMENT, SQLite gives a new row `max(rowid) + 1`, so deleting the last "
    "row frees its id for the next insert; PostgreSQL's sequence never goes back.",
    "Don't assume ids are reused or contiguous; if ids must never be reused on SQLite use "
    "`sqlite_autoincrement=True` in `__table_args__`.",
)
def _rowid_reuse(f: Facts) -> bool:
    return f.shape == "new_id" and f.in_sql(r"^\s*DELETE\b|\nDELETE\b")


@rule(
    "sequence-ids-differ",
    "sequences",
    "New rows got different ids",
    "PostgreSQL takes ids from a sequence that is never rolled back and never reused; SQLite "
    "computes `max(rowid) + 1`. After deletes, rollbacks or explicit ids the two drift apart.",
    "Don't assert on generated ids; refer to rows by natural keys or by the objects the "
    "test created.",
)
def _sequence_ids(f: Facts) -> bool:
    if f.shape == "new_id" or f.any_error(r"nextval|sequence .* does not exist"):
        return True
    # a written row read back (RETURNING) whose only differences are its generated id
    columns = f.differing_columns()
    return f.values_differ() and bool(columns) and all(re.fullmatch(r"(\w+_)?id", c or "", re.I) for c in columns) \
        and f.focus_by.get(SQLITE, "").lstrip().startswith(("INSERT", "UPDATE"))


# ======================================================================================
# numeric
# ======================================================================================


@rule(
    "integer-out-of-range",
    "numeric",
    "INTEGER is 32-bit on PostgreSQL",
    "SQLite integers are 64-bit whatever the declared type; PostgreSQL's INTEGER holds up to "
    "2,147,483,647 and rejects more (`integer out of range`).",
    "Declare large counters as `BigInteger` (`mapped_column(BigInteger)`).",
)
def _int_range(f: Facts) -> bool:
    return f.any_error(r"(integer|smallint|bigint) out of range")


@rule(
    "numeric-overflow",
    "numeric",
    "Numeric(p, s) precision is enforced only by PostgreSQL",
    "SQLite stores NUMERIC values as integers or doubles and ignores precision and scale; "
    "PostgreSQL rejects values with more digits than `Numeric(p, s)` allows "
    "(`numeric field overflow`).",
    "Size the column for the real range (`Numeric(14, 2)`) and validate amounts in the "
    "application.",
)
def _numeric_overflow(f: Facts) -> bool:
    return f.any_error(r"numeric field overflow")


@rule(
    "division-by-zero",
    "numeric",
    "Division by zero is NULL on SQLite and an error on PostgreSQL",
    "SQLite returns NULL for `x / 0`; PostgreSQL raises `division by zero`.",
    "Guard the divisor: `Model.price / func.nullif(Model.stock, 0)` gives NULL on both "
    "engines.",
)
def _div_zero(f: Facts) -> bool:
    return f.any_error(r"division by zero") or f.code("22012")


@rule(
    "round-float",
    "numeric",
    "round(x, n) on a float column does not exist on PostgreSQL",
    "PostgreSQL has `round(numeric, int)` but no `round(double precision, int)` or "
    "`round(real, int)`; SQLite rounds any number.",
    "Store money and measures that are rounded as `Numeric`, or cast before rounding: "
    "`func.round(cast(Model.weight, Numeric), 1)`.",
)
def _round_float(f: Facts) -> bool:
    return f.error_on(PG, r"function round\((double precision|real), integer\) does not exist")


@rule(
    "numeric-rounding",
    "numeric",
    "round() rounds halves differently",
    "PostgreSQL rounds `numeric` halves away from zero but `double precision` halves to even "
    "(round(2.5) = 2); SQLite rounds every half away from zero (3). Values stored as floats "
    "also round from their binary approximation (2.675 is 2.67499...).",
    "Round exact `Numeric` values (`func.round(cast(x, Numeric(10, 2)), 0)`), or round in "
    "Python with `Decimal.quantize(..., ROUND_HALF_UP)`.",
)
def _rounding(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"\bROUND\s*\(") and _numbers_differ(f)


@rule(
    "cast-to-integer",
    "numeric",
    "CAST to INTEGER truncates on SQLite and rounds on PostgreSQL",
    "SQLite's `CAST(2.6 AS INTEGER)` drops the fraction (2); PostgreSQL rounds to the nearest "
    "integer (3).",
    "Say which one you mean: `func.floor(x)` / `func.trunc` per dialect, or `func.round(x)`; "
    "or compute tiers in Python.",
)
def _cast_int(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"CAST\s*\(.*\bAS (INTEGER|BIGINT|SMALLINT|INT)\b") and _numbers_differ(f)


@rule(
    "numeric-precision",
    "numeric",
    "SQLite stores NUMERIC as a binary float",
    "SQLite keeps NUMERIC values as 8-byte floats (about 15-16 significant digits) or "
    "integers; long decimal numbers lose digits (1234567890123456789 comes back as "
    "...768). PostgreSQL's `numeric` is exact.",
    "Store long identifiers as `String`, and amounts with many digits as integers of the "
    "smallest unit (cents); on SQLite consider a `TypeDecorator` that stores Decimals as text.",
)
def _numeric_precision(f: Facts) -> bool:
    return f.only_fails(SQLITE) and f.error_on(SQLITE, r"Decimal\('\d{15,}")


@rule(
    "integer-division",
    "numeric",
    "Dividing integral values truncates on SQLite",
    "SQLite stores an integral NUMERIC value (7.00) as an INTEGER, and integer / integer "
    "truncates (7 / 2 = 3); PostgreSQL's numeric division gives 3.5.",
    "Divide through SQLAlchemy (`Model.price / 2` renders a true division on both "
    "engines) or cast explicitly: `cast(Model.price, Numeric) / 2`.",
)
def _int_division(f: Facts) -> bool:
    if not (_differs(f) and f.in_focus(r"[\w)\]]\s*/\s*[\w(]")):
        return False
    a, b = f.values.get(SQLITE), f.values.get(PG)
    return _has_int_vs_fraction(a, b)


@rule(
    "float-comparison",
    "numeric",
    "Exact comparison of a floating-point column",
    "PostgreSQL's REAL is 4 bytes: 0.1 is stored as 0.100000001490116 and is not equal to "
    "the 8-byte 0.1 the application compares with; SQLite stores every float in 8 bytes, "
    "so `weight = 0.1` matches there only.",
    "Use `Numeric` for values compared exactly, `Double`/`Float(53)` for floats, and compare "
    "floats with a tolerance: `func.abs(Model.weight - 0.1) < 1e-6`.",
)
def _float_compare(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"=\s*(\?|%\()") and bool(re.search(r"(^|[\[,:])-?\d+\.\d+(?=[,\]}])", f.params))


@rule(
    "number-as-text",
    "numeric",
    "A number cast to text is formatted differently",
    "SQLite formats the stored double ('10.5'); PostgreSQL formats the NUMERIC with its "
    "scale ('10.500'). Any CAST(number AS text) or concatenation with a number differs.",
    "Format numbers in Python (`f'{price:.2f}'`) rather than in SQL, or format explicitly "
    "per dialect (`func.to_char` / `func.printf`).",
)
def _number_text(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"CAST\s*\(.* AS (VARCHAR|TEXT|CHAR)|\|\||CONCAT\s*\(") and (
        _number_rendering_differs(f)
    )


def _number_rendering_differs(f: Facts) -> bool:
    """The differing texts differ only in how a number is written: ``30`` / ``30.00``, ``1.0 kg`` / ``1 kg``."""
    from dualdb.compare import differing_cells

    values = [f.values.get(SQLITE), f.values.get(PG)]
    cells = differing_cells(*values) if all(v is not None for v in values) else []
    texts = [(x, y) for x, y in cells if isinstance(x, str) and isinstance(y, str)]
    return bool(texts) and all(_only_number_format(x, y) for x, y in texts)


def _only_number_format(a: str, b: str) -> bool:
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    rest_a, rest_b = a[start:len(a) - end], b[start:len(b) - end]
    if not re.search(r"\d$", a[:start]) and not re.match(r"\d", rest_a + rest_b):
        return False
    return all(re.fullmatch(r"[.,]?\d*(e[+-]?\d+)?", piece) for piece in (rest_a, rest_b))


# ======================================================================================
# types
# ======================================================================================


@rule(
    "boolean-integer-compare",
    "types",
    "Comparing a boolean with 1/0",
    "SQLite has no boolean type (True is 1), so `active = 1` works; PostgreSQL's boolean "
    "does not compare with integers (`operator does not exist: boolean = integer`).",
    "Compare with a Python bool through SQLAlchemy (`Model.active.is_(True)` or "
    "`Model.active == True`); in raw SQL use `true`/`false`.",
)
def _bool_int(f: Facts) -> bool:
    return f.any_error(r"operator does not exist: (boolean (=|<>|!=) integer|integer (=|<>|!=) boolean)")


@rule(
    "boolean-aggregate",
    "types",
    "Arithmetic on a boolean column",
    "On SQLite booleans are integers, so `sum(active)` counts the true rows; PostgreSQL has "
    "no `sum(boolean)` (`function sum(boolean) does not exist`).",
    "Count explicitly: `func.count().filter(Model.active)` or "
    "`func.sum(case((Model.active, 1), else_=0))`.",
)
def _bool_agg(f: Facts) -> bool:
    return f.any_error(r"function (sum|avg|max|min)\(boolean\) does not exist")


@rule(
    "boolean-literal",
    "types",
    "A boolean compared with the string 'true'",
    "PostgreSQL reads `'true'` as a boolean literal; SQLite stores booleans as 1/0 and "
    "compares them with the *string* 'true', which never matches.",
    "Use bound Python booleans: `Model.active.is_(True)` (or `text('... = :flag')` with "
    "`{'flag': True}`).",
)
def _bool_literal(f: Facts) -> bool:
    return _differs(f) and f.in_focus(r"=\s*'(TRUE|FALSE|T|F|YES|NO)'")


@rule(
    "boolean-affinity",
    "types",
    "Booleans come back as 1/0 from SQLite",
    "SQLite has no boolean type: without a Boolean result type (raw SQL, `text()`) the "
    "application receives 1/0 there and True/False from PostgreSQL — JSON output, "
    "`is True` checks and serialisers see different values.",
    "Read booleans through the model or declare the type: "
    "`text('...').columns(active=Boolean)`.",
)
def _bool_affinity(f: Facts) -> bool:
    return f.shape == "bool_vs_number"


@rule(
    "decimal-vs-float",
    "types",
    "Decimal on PostgreSQL where SQLite gives a float",
    "Aggregates and arithmetic over NUMERIC (`avg`, `sum`, `price * 1.1`) return "
    "`decimal.Decimal` from PostgreSQL and `float` from SQLite; code that serialises them "
    "(`json.dumps`) or mixes them with floats fails on one engine only.",
    "Declare the type you want: `cast(func.avg(x), Float)` or `type_coerce(..., Numeric(asdecimal=False))`, "
    "and serialise Decimals explicitly.",
)
def _decimal_float(f: Facts) -> bool:
    return f.any_error(r"Object of type Decimal is not JSON serializable|unsupported operand type\(s\) "
                       r"for .*(decimal\.Decimal.*float|float.*decimal\.Decimal)")


@rule(
    "string-number-compare",
    "types",
    "Comparing a text column with a number",
    "SQLite's type affinity converts the number to text and compares (`sku = 1001` finds "
    "'1001'); PostgreSQL refuses to compare text with integer "
    "(`operator does not exist: character varying = integer`).",
    "Pass values of the column's type: `Model.sku == str(sku)`, or cast: "
    "`cast(Model.sku, Integer) == sku`.",
)
def _str_num(f: Facts) -> bool:
    return f.any_error(r"operator does not exist: (character varying|text|character) (=|<>|<|>|<=|>=|~~) "
                       r"(integer|bigint|numeric|double precision|smallint)|operator does not exist: "
                       r"(integer|bigint|numeric) (=|<>|~~) (character varying|text)")


@rule(
    "json-cast",
    "json",
    "A JSON value cast to another type",
    "SQLite's JSON is text, and its JSON functions return SQL values, so a cast of a JSON "
    "element works there; PostgreSQL's `json`/`jsonb` cannot be cast to `integer`, `numeric` "
    "or `boolean` (`cannot cast type json to integer`) — only its text (`->>`) can.",
    "Use SQLAlchemy's typed JSON accessors, which render the right operator per dialect: "
    "`Model.attrs['age_limit'].as_integer()` (or `.as_float()`, `.as_boolean()`, `.as_string()`).",
)
def _json_cast(f: Facts) -> bool:
    return f.any_error(r"cannot cast type jsonb? to \w+") or (
        f.code("42846") and f.any_error(r"\bjsonb?\b")
    )


@rule(
    "timestamp-form",
    "datetime",
    "The database clock gives timestamps another form on each engine",
    "SQLite's `CURRENT_TIMESTAMP` (what `func.now()` and `server_default=func.now()` render "
    "there) is text with whole seconds and no offset; PostgreSQL's `now()` has microseconds "
    "and, for `timestamptz`, an offset. The same row reads back, and serialises into a response, "
    "as `10:00:00` on one engine and `10:00:00.123456` on the other.",
    "Set the timestamp in Python so both engines store the same value: "
    "`mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))`; "
    "or format timestamps explicitly in the response schema (e.g. truncate to seconds).",
)
def _timestamp_form(f: Facts) -> bool:
    return f.shape == "datetime_form"


@rule(
    "negative-limit",
    "sql_syntax",
    "A negative LIMIT means 'no limit' on SQLite and is an error on PostgreSQL",
    "SQLite treats `LIMIT -1` (or any negative count) as no limit at all; PostgreSQL rejects a "
    "negative LIMIT or OFFSET (SQLSTATE 2201W/2201X: `LIMIT must not be negative`).",
    "Leave the limit out when there is none (`if limit is not None: query = query.limit(limit)`), "
    "and validate page sizes and offsets before they reach the query.",
)
def _negative_limit(f: Facts) -> bool:
    return f.code("2201W", "2201X") or (bool(f.failing) and "NEGATIVE LIMIT" in f.constructs())


@rule(
    "integer-truthiness",
    "types",
    "A number used as a condition",
    "SQLite has no boolean type: `WHERE active` or `WHERE 1` tests a number for non-zero. "
    "PostgreSQL requires a boolean condition (SQLSTATE 42804: `argument of WHERE must be type "
    "boolean, not type integer`).",
    "Compare explicitly (`Model.active == 1`), or better make the column `Boolean` and write "
    "`Model.active.is_(True)`; SQLAlchemy renders each engine's form.",
)
def _int_truthiness(f: Facts) -> bool:
    return f.code("42804") and f.any_error(r"argument of (WHERE|HAVING|AND|OR|NOT|CASE.*WHEN)\b.* must be type boolean")


@rule(
    "text-arithmetic",
    "types",
    "Arithmetic between text and a number",
    "SQLite converts text to a number for `+`, `-`, `*` (`'12' + 1` is 13, `'abc' + 1` is 1); "
    "PostgreSQL has no such operator (SQLSTATE 42883: `operator does not exist: text + integer`).",
    "Store numbers in numeric columns, or cast explicitly (`cast(Model.code, Integer) + 1`); "
    "to join strings use `concat` / `+` on `String` expressions, which SQLAlchemy renders as `||`.",
)
def _text_arithmetic(f: Facts) -> bool:
    return f.code("42883") and f.any_error(
        r"operator does not exist: (text|character varying|character) [-+*/%] (integer|bigint|smallint|numeric|double)"
        r"|operator does not exist: (integer|bigint|smallint|numeric|double precision) [-+*/%] (text|character varying)"
    )


@rule(
    "type-affinity",
    "types",
    "SQLite stores a value of the wrong type; PostgreSQL rejects it",
    "SQLite's columns have type *affinity*, not types: 'lots' is stored in an INTEGER column "
    "as text. PostgreSQL checks the type (`invalid input syntax for type integer`).",
    "Validate and convert input before it reaches the model (the API schema, `int(value)`), "
    "and keep column types strict in the application.",
)
def _affinity(f: Facts) -> bool:
    return f.any_error(r"invalid input (syntax|value) for (type|enum)") or f.code("22P02")


# ======================================================================================
# datetime
# ======================================================================================


@rule(
    "sqlite-datetime-strict",
    "datetime",
    "SQLite's DateTime type accepts only datetime objects",
    "SQLAlchemy's SQLite DateTime type formats Python datetimes itself and raises "
    "`TypeError` for strings; psycopg sends a string and PostgreSQL parses it.",
    "Parse input before it reaches the model: `dt.datetime.fromisoformat(payload['ship_by'])` "
    "(or let the API schema do it).",
)
def _dt_strict(f: Facts) -> bool:
    return f.any_error(r"SQLite (DateTime|Date|Time) type only accepts Python")


@rule(
    "date-format-function",
    "datetime",
    "Date formatting and truncation are engine-specific",
    "`strftime`, `julianday` and `datetime()` are SQLite's; `to_char`, `date_trunc`, "
    "`age` and `extract(epoch ...)` are PostgreSQL's. `CAST(x AS DATE)` truncates to the day "
    "only on PostgreSQL: SQLite has no date type, `DATE`/`TIMESTAMP` in a CAST mean NUMERIC "
    "affinity, so `CAST('2024-03-01 12:00:00' AS DATE)` is the number 2024.",
    "Use constructs both engines evaluate alike: `extract('year', Model.ts)` (SQLAlchemy "
    "renders each engine's form), `func.date(Model.ts, type_=Date)` to truncate to the day "
    "(not `cast(Model.ts, Date)`), a half-open range `Model.ts >= day, Model.ts < next_day`, "
    "or group in Python; for month buckets a small `@compiles` function per dialect.",
)
def _date_format(f: Facts) -> bool:
    return f.error_on(PG, r"function (strftime|julianday|datetime|unixepoch|time|date)\(") or f.error_on(
        SQLITE, r"no such function: (to_char|to_date|to_timestamp|date_trunc|date_part|age|make_date|"
        r"make_timestamp|justify_\w+|now|clock_timestamp|timezone)\b"
    ) or (bool(f.failing) and f.in_focus(r"AT TIME ZONE")) or (
        (_differs(f) or bool(f.failing))
        and f.in_focus(r"CAST\s*\((?:(?!\bAS\b).)+\bAS\s+(DATE|DATETIME|TIMESTAMP|TIME)\b", SQLITE)
    )


@rule(
    "date-arithmetic",
    "datetime",
    "Arithmetic on datetime columns works only on PostgreSQL",
    "PostgreSQL adds an interval to a timestamp and subtracts two timestamps into an "
    "interval (a `timedelta`). SQLite stores datetimes as text, so `ts + interval` and "
    "`shipped_at - created_at` are numeric operations on two strings: they yield a number "
    "(0, or a difference of years), which SQLAlchemy then fails to read as a datetime or "
    "`Interval` (`TypeError`), or which is silently wrong.",
    "Do date arithmetic in Python where possible (`order.ship_by + timedelta(days=30)`, "
    "`shipped - created` after loading both); for a duration in SQL subtract epoch seconds, "
    "which both engines compute: `extract('epoch', Model.shipped_at) - extract('epoch', "
    "Model.created_at)`; otherwise a per-dialect expression behind a `@compiles` helper.",
)
def _date_arith(f: Facts) -> bool:
    if '"$interval"' in canonical_text(f.values):  # one engine computed an interval
        return True
    if f.only_fails(SQLITE) and f.error_on(SQLITE, r"fromisoformat|Interval|timedelta") and f.in_focus(
        r"[\w\])]\s+-\s+[\w(]", SQLITE
    ):
        return True
    return (bool(f.failing) or _differs(f)) and (
        '"$interval"' in f.params or '"$interval"' in f.all_params or f.in_focus(r"\bINTERVAL\b")
    )


@rule(
    "tz-naive-vs-aware",
    "datetime",
    "Timezone-aware datetimes come back naive from SQLite",
    "SQLite has no timestamp type: `DateTime(timezone=True)` is stored as text without the "
    "offset and read back naive; PostgreSQL's `timestamptz` returns aware datetimes. "
    "Comparisons between the two raise `TypeError` in Python.",
    "Store UTC consistently: convert to UTC before writing and treat values read from "
    "SQLite as UTC (a `TypeDecorator` that adds `tzinfo=timezone.utc`).",
)
def _tz_aware(f: Facts) -> bool:
    return f.shape == "naive_vs_aware" or f.any_error(r"can't (compare|subtract) offset-naive and offset-aware")


@rule(
    "tz-offset-dropped",
    "datetime",
    "An aware datetime stored in a naive column",
    "Writing a datetime with an offset into `DateTime` (without time zone): PostgreSQL "
    "converts it to the session time zone (10:00+02:00 becomes 08:00), SQLite drops the "
    "offset and keeps 10:00.",
    "Convert to UTC (or strip the offset deliberately) before assigning: "
    "`value.astimezone(timezone.utc).replace(tzinfo=None)`, or make the column "
    "`DateTime(timezone=True)`.",
)
def _tz_dropped(f: Facts) -> bool:
    return _differs(f) and '"$dtz"' in f.all_params and "$dt" in str(f.values) and "$dtz" not in str(f.values)


@rule(
    "date-text-comparison",
    "datetime",
    "Datetimes compared as text on SQLite",
    "SQLite stores datetimes as text ('2024-03-01 09:00:00.000000'), so comparing with a "
    "literal in another format ('2024-03-01T00:00:00') is a string comparison (' ' < 'T'); "
    "PostgreSQL parses the literal as a timestamp.",
    "Compare with bound datetime objects: `Model.ts >= datetime(2024, 3, 1)` (or "
    "`text('... >= :since')` with a datetime parameter).",
)
def _date_text(f: Facts) -> bool:
    if f.error_on(PG, r"operator does not exist: (timestamp|date|time)[\w ]* (=|<>|<|>|<=|>=) "
                      r"(character varying|text)"):
        return True
    return _differs(f) and (f.in_focus(r"'\d{4}-\d{2}-\d{2}[T ]\d") or any(
        isinstance(v, str) and re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", v) for v in _param_values(f.params)))


@rule(
    "date-as-text",
    "datetime",
    "A date comes back as text from SQLite",
    "SQLite's date functions (`date()`, `datetime()`) return text, and raw SQL has no "
    "result type; PostgreSQL returns `date`/`timestamp` objects.",
    "Declare the result type: `func.date(Model.ts, type_=Date)` (or `type_coerce(..., Date)`), "
    "and for raw SQL `text('...').columns(created_at=DateTime)` — SQLAlchemy then parses "
    "SQLite's text into `datetime` objects. (Not `cast(Model.ts, Date)`: on SQLite that is "
    "a numeric cast.)",
)
def _date_as_text(f: Facts) -> bool:
    return f.shape == "datetime_vs_string"


# ======================================================================================
# generic fallbacks
# ======================================================================================


@rule(
    "postgres-session-features",
    "transactions",
    "Session and transaction features of PostgreSQL",
    "`SET LOCAL statement_timeout`, advisory locks (`pg_advisory_xact_lock`), "
    "LISTEN/NOTIFY and other session settings are PostgreSQL features; SQLite rejects them.",
    "Keep them behind a dialect check (`if session.bind.dialect.name == 'postgresql':`) "
    "or an application setting, and test that code path on PostgreSQL.",
)
def _pg_session(f: Facts) -> bool:
    return bool(f.failing) and (
        f.in_focus(r"^\s*SET\s+(LOCAL|SESSION)\b|STATEMENT_TIMEOUT|LOCK_TIMEOUT|\bLISTEN\b|\bNOTIFY\b")
        or f.any_error(r"no such function: pg_(try_)?advisory")
    )


@rule(
    "non-standard-sql",
    "sql_syntax",
    "SQL that only SQLite accepts",
    "SQLite is lenient: it accepts MySQL-isms (`LIMIT 10, 20`, backtick identifiers, `==`), "
    "output aliases in WHERE, and other non-standard forms; PostgreSQL rejects them with a "
    "syntax or unknown-column error.",
    "Write standard SQL — better, build the query with SQLAlchemy (`.limit(20).offset(10)`, "
    "`select(...).where(...)`), which renders each engine's syntax.",
)
def _non_standard(f: Facts) -> bool:
    return f.only_fails(PG) and f.error_on(
        PG, r'syntax error at or near|LIMIT #,# syntax|operator does not exist: [\w ]+ ==|column "[^"]+" does not exist'
    )


@rule(
    "sqlite-only-function",
    "sql_syntax",
    "A function that exists only on SQLite",
    "The query calls a function PostgreSQL does not have (`ifnull`, `instr`, `printf`, "
    "`total`, `typeof` ...).",
    "Use the portable equivalent (`func.coalesce` for `ifnull`, `func.length`, "
    "`Model.col.contains()`), or SQLAlchemy's generic functions, which render per dialect.",
)
def _sqlite_only_fn(f: Facts) -> bool:
    return f.only_fails(PG) and f.error_on(PG, r"function \w+\(.*\) does not exist")


@rule(
    "postgres-only-function",
    "sql_syntax",
    "A function that exists only on PostgreSQL",
    "The query calls a function SQLite does not have (`split_part`, `regexp_replace`, "
    "`greatest`, `md5` ...): `no such function`.",
    "Use portable SQL (`func.substr`/`func.instr`-free string handling in Python), or "
    "register a Python implementation on SQLite connections "
    "(`dbapi_conn.create_function(...)` in a connect event) so both engines have it.",
)
def _pg_only_fn(f: Facts) -> bool:
    return f.only_fails(SQLITE) and f.error_on(SQLITE, r"no such function: \w+")


@rule(
    "unordered-limit",
    "ordering",
    "A query without ORDER BY returns rows in scan order",
    "Without ORDER BY, row order is whatever the engine's scan produces: SQLite returns "
    "rowid order, PostgreSQL returns heap order, and an UPDATE moves the row to the end. "
    "Lists come back in another order, and `LIMIT`, `.first()` and pagination pick other rows.",
    "Always say the order, before limiting too: `select(...).order_by(Model.id).limit(1)`; in "
    "the ORM, add `order_by=` to relationships whose order matters "
    "(`relationship(order_by=Post.id)`).",
)
def _unordered(f: Facts) -> bool:
    if f.shape not in ("value", "order", "count", "case", "rows"):
        return False
    focus = f.focus_by.get(SQLITE) or f.focus
    return bool(focus) and "ORDER BY" not in focus and (
        re.search(r"\b(LIMIT|FETCH FIRST|TOP)\b", focus) is not None or f.shape == "order"
    )


def _numbers_differ(f: Facts) -> bool:
    a, b = f.values.get(SQLITE), f.values.get(PG)
    return _flat_numbers(a) != _flat_numbers(b) and bool(_flat_numbers(a)) and bool(_flat_numbers(b))


def _flat_numbers(value: Any) -> list:
    out: list = []
    if isinstance(value, list):
        for v in value:
            out.extend(_flat_numbers(v))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append(value)
    return out


def _has_int_vs_fraction(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return any(_has_int_vs_fraction(x, y) for x, y in zip(a, b))
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        return a != b and (float(a).is_integer() != float(b).is_integer()) and int(a) == int(b)
    return False
