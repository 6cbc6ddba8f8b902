"""What a SQL statement is, from its text alone: verb, tables, ordering, constructs.

A leaf module (no driver, no SQLAlchemy, nothing else of the package): capture
uses it on the hot path (``statement_shape``, ``has_top_level_order_by`` are
cheap text scans, cached by the caller), comparison uses it to align the two
dialects' statements, and the explanation rules ask it which SQL constructs a
statement uses (``constructs``). The latter parses with sqlglot — a real SQL
parser, so a ``LIKE`` inside a string literal or an ``ORDER BY`` inside a
window is not mistaken for the statement's own — and is only called for the
few statements of diverged tests.
"""

from __future__ import annotations

import functools
import re

HARNESS_MARK = "/* dualdb */"
TRANSACTION_VERBS = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "END")
DDL_VERBS = ("CREATE", "DROP", "ALTER", "PRAGMA", "SET", "SHOW", "RESET", "COMMENT", "TRUNCATE", "ANALYZE", "VACUUM")
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT")
READ_VERBS = ("SELECT", "WITH", "VALUES")

TABLE_RE = re.compile(r'\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)', re.I)
_PLACEHOLDER_RE = re.compile(r"%\((\w+)\)s|%s|\$\d+|:\w+(?![:\w])|\?")
_POSTCOMPILE_RE = re.compile(r"\(?__\[POSTCOMPILE_\w+\]\)?")


def statement_verb(sql: str) -> str:
    """The statement's first keyword (``SELECT``, ``INSERT`` ...), past comments and parentheses."""
    text = sql.lstrip()
    while text.startswith("/*"):
        end = text.find("*/")
        if end < 0:
            break
        text = text[end + 2 :].lstrip()
    while text.startswith("("):
        text = text[1:].lstrip()
    head = text.split(None, 1)[0] if text else ""
    return head.upper().rstrip(";")


def statement_shape(sql: str) -> str:
    """Verb plus referenced tables: equal for the two dialects' SQL of the same ORM call."""
    tables = sorted({t.split(".")[-1].strip('"').lower() for t in TABLE_RE.findall(sql)})
    return f"{statement_verb(sql)} {','.join(tables)}".strip()


def is_harness_sql(sql: str) -> bool:
    """SQL the harness (or the transaction machinery) sends, never compared."""
    return sql.lstrip().startswith(HARNESS_MARK) or statement_verb(sql) in TRANSACTION_VERBS


def is_compared_verb(verb: str) -> bool:
    """Statements whose results are the application's data (not DDL, not transaction control)."""
    return verb not in DDL_VERBS and verb not in TRANSACTION_VERBS


def has_top_level_order_by(sql: str) -> bool:
    """True when the outermost statement has an ORDER BY (so row order is meaningful).

    Parentheses and quotes are tracked so an ORDER BY inside a subquery,
    window or string does not count.
    """
    upper = sql.upper()
    if "ORDER BY" not in upper:
        return False
    depth = 0
    in_quote = None
    for i, ch in enumerate(upper):
        if in_quote:
            if ch == in_quote:
                in_quote = None
        elif ch in "'\"":
            in_quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch == "O" and upper.startswith("ORDER BY", i):
            return True
    return False


# -- constructs, for explanations --------------------------------------------------------

# sqlglot expression class -> the construct name the rules ask for
_NODE_CONSTRUCTS = {
    "Like": "LIKE", "ILike": "ILIKE", "Order": "ORDER BY", "Limit": "LIMIT", "Offset": "OFFSET",
    "Lock": "FOR UPDATE", "Returning": "RETURNING", "OnConflict": "ON CONFLICT", "Group": "GROUP BY",
    "Distinct": "DISTINCT", "Union": "UNION", "Window": "WINDOW", "Cast": "CAST", "TryCast": "CAST",
    "DPipe": "CONCAT", "Div": "DIVISION", "IntDiv": "DIVISION", "Add": "ADDITION", "Collate": "COLLATE",
    "RegexpLike": "REGEX", "RegexpILike": "REGEX", "SimilarTo": "REGEX", "Bracket": "SUBSCRIPT",
    "JSONExtract": "JSON", "JSONExtractScalar": "JSON", "JSONBExtract": "JSON", "JSONBExtractScalar": "JSON",
    "JSONBContains": "JSON", "Array": "ARRAY", "ArrayAgg": "ARRAY", "Explode": "ARRAY", "Unnest": "ARRAY",
    "ArrayContains": "ARRAY", "ArrayContainsAll": "ARRAY", "ArrayOverlaps": "ARRAY", "GroupConcat": "STRING_AGG",
    "Avg": "AVG", "Round": "ROUND", "Sum": "SUM", "Count": "COUNT", "Max": "MAX", "Min": "MIN",
    "Substring": "SUBSTR", "Lower": "LOWER", "Upper": "UPPER", "Trim": "TRIM", "Length": "LENGTH",
    "CurrentTimestamp": "NOW", "CurrentDate": "NOW", "CurrentTime": "NOW", "Interval": "INTERVAL",
    "Extract": "EXTRACT", "TimeToStr": "STRFTIME", "StrToTime": "STRFTIME", "Coalesce": "COALESCE",
    "Exists": "EXISTS", "Subquery": "SUBQUERY", "In": "IN", "Between": "BETWEEN", "Is": "IS",
    "Boolean": "BOOLEAN LITERAL",
}


@functools.lru_cache(maxsize=2048)
def constructs(sql: str, dialect: str | None = None) -> frozenset[str]:
    """The SQL constructs a statement uses (``LIKE``, ``ORDER BY``, ``FOR UPDATE``, function names ...).

    Parsed with sqlglot (``dialect`` is ``"sqlite"`` or ``"postgresql"``); a
    statement sqlglot cannot parse falls back to the keywords found outside
    string literals. Function names appear upper-cased (``JSON_EXTRACT``),
    plus ``UPDATE FROM``, ``NULLS FIRST/LAST``, ``NEGATIVE LIMIT`` and
    ``BARE CONDITION`` (``WHERE 1``, ``WHERE t.flag``: a value used as a truth value) where they apply.
    """
    text = _parsable(sql)
    try:
        tree = _parse(text, dialect)
    except Exception:
        tree = None
    if tree is None:
        return _keyword_constructs(sql)
    found = _tree_constructs(tree)
    upper = sql.upper()
    found.update(k for k in ("NULLS FIRST", "NULLS LAST") if k in upper)
    return frozenset(found)


def tables_of(sql: str) -> frozenset[str]:
    """The tables a statement names (lower-cased, without schema)."""
    return frozenset(t.split(".")[-1].strip('"').lower() for t in TABLE_RE.findall(sql))


def _parsable(sql: str) -> str:
    """Driver placeholders (``%(name)s``, ``%s``, ``?``, ``$1``) and SQLAlchemy's expanding
    parameters as one placeholder form sqlglot reads in both dialects."""
    text = _POSTCOMPILE_RE.sub("(?)", sql)
    return _PLACEHOLDER_RE.sub("?", text)


def _parse(text: str, dialect: str | None):  # noqa: ANN202 - sqlglot's Expression, imported lazily
    import sqlglot
    from sqlglot.errors import ErrorLevel

    read = {"postgresql": "postgres", "sqlite": "sqlite"}.get(dialect or "", None)
    return sqlglot.parse_one(text, read=read, error_level=ErrorLevel.IGNORE)


def _tree_constructs(tree) -> set[str]:  # noqa: ANN001
    from sqlglot import exp

    found: set[str] = set()
    for node in tree.walk():
        name = type(node).__name__
        construct = _NODE_CONSTRUCTS.get(name)
        if construct:
            found.add(construct)
        if isinstance(node, exp.Anonymous):
            found.add(str(node.name).upper())
        elif isinstance(node, exp.Func):
            try:
                found.add(node.sql_name())
            except Exception:
                pass
        if isinstance(node, exp.Update) and (node.args.get("from") or node.args.get("from_")):
            found.add("UPDATE FROM")
        if isinstance(node, (exp.Limit, exp.Offset)):
            value = node.expression
            if isinstance(value, exp.Neg) or (isinstance(value, exp.Literal) and str(value.this).startswith("-")):
                found.add("NEGATIVE LIMIT")
        if isinstance(node, exp.Where) and isinstance(node.this, (exp.Literal, exp.Column)) and not isinstance(
            node.this, exp.Boolean
        ):
            found.add("BARE CONDITION")
        if isinstance(node, exp.DataType):
            found.add(f"TYPE {node.this.name}" if hasattr(node.this, "name") else "TYPE")
    return found


_KEYWORDS = ("LIKE", "ILIKE", "ORDER BY", "LIMIT", "OFFSET", "FOR UPDATE", "RETURNING", "ON CONFLICT",
             "GROUP BY", "DISTINCT", "UNION", "COLLATE", "CAST", "||")


def _keyword_constructs(sql: str) -> frozenset[str]:
    outside = re.sub(r"'(?:[^']|'')*'", "''", sql.upper())
    found = {k for k in _KEYWORDS if re.search(rf"(?<![\w]){re.escape(k)}(?![\w])", outside)}
    if "||" in found:
        found.discard("||")
        found.add("CONCAT")
    found.update(m.upper() for m in re.findall(r"\b([A-Z_][A-Z0-9_]*)\s*\(", outside))
    return frozenset(found)
