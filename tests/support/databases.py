"""What the session's PostgreSQL server holds, for tests that check a run left nothing behind."""

from __future__ import annotations

from sqlalchemy import text


def database_names(admin) -> set[str]:  # noqa: ANN001
    """The server's databases, minus the schema templates the plugin keeps on purpose for the next run
    (``dualdb_tpl_<fingerprint>``, see tests/runs/test_schema_reuse.py)."""
    with admin.connect() as conn:
        names = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    return {n for n in names if not n.startswith("dualdb_tpl_")}
