"""What a schema finding means: the category and the fix of a migration that failed on one
engine, and of schema drift (an object one engine's migrations lost or never created).

The explanations of schema findings, next to the rules that explain test divergences;
``engines/migrations.py`` runs the migrations and compares the schemas, and asks here
what each finding means.
"""

from __future__ import annotations

import re

PG_MAX_IDENTIFIER = 63  # bytes; PostgreSQL truncates longer names (NAMEDATALEN - 1)

_DRIFT_CATEGORY = {"fk": "constraints", "unique": "constraints", "not_null": "nulls", "index": "other"}


def migration_failure(backend: str, error: str | None, statement: str | None, location: str | None) -> tuple[str, str]:
    """The category of a revision that failed on ``backend``, and how to make it portable."""
    error = error or ""
    text = " ".join(filter(None, [statement, location, error])).upper()
    if backend == "sqlite" and (
        "NO SUPPORT FOR ALTER" in text
        or re.search(r"ALTER TABLE \S+ (ALTER|DROP CONSTRAINT|ADD CONSTRAINT)", text)
        or 'NEAR "ALTER"' in text
        or 'NEAR "CONSTRAINT"' in text
    ):
        return "sql_syntax", (
            "SQLite cannot ALTER a column or a constraint. Run the operation in batch mode — "
            "`with op.batch_alter_table(\"<table>\") as batch_op: batch_op.alter_column(...)` — "
            "or set `render_as_batch=True` in env.py's `context.configure(...)`, so Alembic "
            "recreates the table on SQLite and emits a plain ALTER on PostgreSQL."
        )
    names = re.findall(r'"([^"]{%d,})"' % (PG_MAX_IDENTIFIER + 1), statement or "") + [
        n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", statement or "") if len(n) > PG_MAX_IDENTIFIER
    ]
    if backend == "postgresql" and names:
        return "constraints", (
            f"PostgreSQL truncates identifiers to {PG_MAX_IDENTIFIER} bytes ({names[0][:40]}… is longer), so "
            "a later operation naming the full name does not find it; SQLite keeps long names. Use shorter "
            "names, or a MetaData naming_convention that keeps them under 63 characters."
        )
    upper = error.upper()
    if "IS OF TYPE" in upper or "DATATYPEMISMATCH" in upper:
        return "types", (
            "PostgreSQL checks the type of a value or default against the column (a Boolean column "
            "defaulting to `0`, an integer compared with text); SQLite accepts anything. Write the "
            "literal in the column's type (`sa.false()`, `sa.text(\"false\")`), or cast explicitly."
        )
    if "COMPILE" in upper or ("TYPE" in upper and "DOES NOT EXIST" in upper):
        return "types", (
            "The revision uses a type one engine does not have. Use a portable SQLAlchemy type "
            "(sa.JSON, sa.Uuid, sa.Enum(..., native_enum=False)) or guard the engine-specific DDL with "
            "`if op.get_bind().dialect.name == \"postgresql\":`."
        )
    if "FUNCTION" in error.upper() and ("DOES NOT EXIST" in error.upper() or "NO SUCH FUNCTION" in error.upper()):
        return "sql_syntax", (
            "The revision calls a SQL function one engine lacks. Use a portable expression, or guard "
            "the engine-specific part with `if op.get_bind().dialect.name == ...:`."
        )
    return "other", (
        f"Make the revision portable across SQLite and PostgreSQL, or branch on "
        f"`op.get_bind().dialect.name` for the part {backend} rejects; until then the {backend} schema "
        "stops before this revision and tests that need it fail there."
    )


def drift_category(kind: str) -> str:
    """The category of a drift finding about a ``kind`` of schema object."""
    return _DRIFT_CATEGORY.get(kind, "other")


def drift_fix(kind: str, backend: str, direction: str) -> str:
    """How to make both engines end in the same schema when ``kind`` (fk, unique, not_null, index,
    column, table) is ``missing`` on ``backend``, or ``extra`` there."""
    if backend == "sqlite" and direction == "missing" and kind in ("fk", "unique", "not_null", "index"):
        return (
            "Alembic's batch mode rebuilds a SQLite table from what it reflects plus what you pass it: a "
            "column given in reflect_args/table_args replaces the reflected one together with its foreign "
            "keys, and copy_from uses your Table as is. Re-declare the lost object in the batch operation "
            "(e.g. batch_op.create_foreign_key(...)) or in the overriding Column, and let autogenerate "
            "against your models confirm both engines match."
        )
    if direction == "missing":
        return (
            f"The migrations create this on one engine only: make the revision that creates it run on "
            f"{backend} too (no dialect guard around it, batch mode on SQLite), or add a revision that creates it."
        )
    return "Drop it in a migration, or add it to the models, so both engines end in the same schema."
