"""PostgreSQL sequence state (``engines/sequences.py``) on a real server: what ``positions``,
``restore`` and ``reset`` leave for the next ``nextval``, a name that needs quoting included."""

from __future__ import annotations

import pytest

from dualdb.engines import postgres, sequences

# a sequence whose name holds a quote and a percent sign: both must survive the reset statement
CREATE_ODD = """CREATE SEQUENCE "odd's%%seq" START 10"""
NEXT_ODD = """SELECT nextval('"odd''s%%seq"')"""


@pytest.fixture
def conn(pg_url):  # noqa: ANN001
    admin = postgres.admin_engine(postgres.parse_url(pg_url))
    name = postgres.new_database_name()
    postgres.create_database(admin, name, "C")
    engine = postgres.make_engine(postgres.parse_url(pg_url).set(database=name))
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE things (id serial)")
            connection.exec_driver_sql(CREATE_ODD)
            connection.commit()
            yield connection
    finally:
        engine.dispose()
        postgres.drop_database(admin, name)
        admin.dispose()


def next_values(conn, n=1):  # noqa: ANN001
    ids = [conn.exec_driver_sql("INSERT INTO things DEFAULT VALUES RETURNING id").scalar() for _ in range(n)]
    return ids, conn.exec_driver_sql(NEXT_ODD).scalar()


def test_restore_puts_back_only_what_moved_since_the_snapshot(conn):  # noqa: ANN001
    unused = sequences.positions(conn)
    assert set(unused.values()) == {None} and len(unused) == 2
    assert next_values(conn, 3) == ([1, 2, 3], 10)
    sequences.restore(conn, unused)  # never used: back to the start, not to 1
    assert next_values(conn) == ([1], 10)
    used = sequences.positions(conn)
    assert next_values(conn, 2) == ([2, 3], 11)
    sequences.restore(conn, used)
    assert next_values(conn) == ([2], 11)


def test_reset_survives_the_rollback_and_its_statement_is_reused(conn):  # noqa: ANN001
    conn.begin()
    assert next_values(conn, 2) == ([1, 2], 10)
    statement = sequences.reset(conn)
    conn.rollback()
    assert "setval" in statement and next_values(conn) == ([1], 10)
    assert sequences.reset(conn, statement) == statement
    assert next_values(conn) == ([1], 10)
