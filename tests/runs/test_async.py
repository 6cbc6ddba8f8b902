"""The async fixtures, through real inner runs: pytest-asyncio (strict and auto) and anyio.

The demo project ``tests/projects/async_app`` is an async FastAPI shop written with
async SQLAlchemy, plus its sync twin; the same five scenarios run three ways
(pytest-asyncio, anyio, sync) and must get the same verdicts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from support.models import MODELS

PROJECTS = Path(__file__).parents[1] / "projects"

SCENARIOS = {
    "test_create_customer": ("same", None),
    "test_search_ignores_case": ("diverged", "outcome"),
    "test_names_sorted": ("diverged", "value"),
    "test_duplicate_email": ("same", None),
    "test_total_with_tax": ("failed_both", None),
}


def copy_project(inner, name: str) -> None:  # noqa: ANN001
    shutil.copytree(PROJECTS / name, inner.pytester.path, dirs_exist_ok=True)


def by_file(report: dict) -> dict[str, dict[str, tuple[str, str | None]]]:
    out: dict[str, dict[str, tuple[str, str | None]]] = {}
    for test in report["tests"]:
        path, name = test["nodeid"].split("::")
        out.setdefault(path, {})[name] = (test["verdict"], test["kind"])
    return out


def entry(report: dict, nodeid: str) -> dict:
    return next(t for t in report["tests"] if t["nodeid"] == nodeid)


def test_async_fastapi_app_reports_like_its_sync_twin(inner):
    copy_project(inner, "async_app")
    result = inner.run("--dual-db")
    # 15 tests x 2 legs; per style: search fails on PostgreSQL, the tax bug on both
    result.assert_outcomes(passed=21, failed=9)
    report = inner.report()
    verdicts = by_file(report)
    expected = dict(SCENARIOS)
    linguistic = report["backends"]["postgresql"].get("collation") != "C"
    if not linguistic:  # a server without ICU (the pip wheel) sorts bytewise, like SQLite
        expected["test_names_sorted"] = ("same", None)
    assert verdicts == {
        "test_async_api.py": expected,  # pytest-asyncio, strict mode
        "test_anyio_api.py": expected,  # anyio
        "test_sync_api.py": expected,  # the sync twin
    }
    assert report["summary"]["diverged"] == (6 if linguistic else 3)

    # statement capture on the async legs: SQL, parameters, rows and errors, as for sync ones
    search = entry(report, "test_async_api.py::test_search_ignores_case")
    selects = {b: [s for s in leg["statements"] if "LIKE" in s["sql"]] for b, leg in search["legs"].items()}
    assert [s["rows"] for s in selects["sqlite"]] == [[[1, "alice@x.io", "Alice"]]]
    assert [s["rows"] for s in selects["postgresql"]] == [[]]
    assert "%alice%" in str(selects["postgresql"][0]["params"])
    duplicate = entry(report, "test_anyio_api.py::test_duplicate_email")
    # the legs agreed, so their captured statements were freed (only divergences keep evidence)
    assert duplicate["verdict"] == "same"
    assert all(leg["statements"] == [] for leg in duplicate["legs"].values())
    if linguistic:
        names = entry(report, "test_async_api.py::test_names_sorted")["first_difference"]["values"]
        assert names == {"sqlite": ["Bea", "al", "bob"], "postgresql": ["al", "Bea", "bob"]}
    created = entry(report, "test_anyio_api.py::test_create_customer")
    assert created["legs"]["postgresql"]["observations"] == created["legs"]["sqlite"]["observations"]


def test_async_fixtures_isolation_under_pytest_asyncio_auto_mode(inner):
    inner.project(
        MODELS,
        ini="asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function",
        test_iso="""
        import pytest
        from sqlalchemy import func, select, text
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.ext.asyncio import AsyncEngine
        from models import User

        async def count(session):
            return await session.scalar(select(func.count(User.id)))

        @pytest.mark.parametrize("n", range(2))
        async def test_commits_roll_back_and_ids_restart(db_async_session, observe, n):
            assert await count(db_async_session) == 0
            users = [User(name=f"u{i}") for i in range(3)]
            db_async_session.add_all(users)
            await db_async_session.commit()
            observe("ids", [u.id for u in users])
            assert [u.id for u in users] == [1, 2, 3]

        async def test_sync_test_after_async_gets_fresh_ids(db_async_connection):
            await db_async_connection.execute(text("INSERT INTO users (name, active) VALUES ('x', true)"))
            assert (await db_async_connection.execute(text("SELECT max(id) FROM users"))).scalar() == 1

        def test_sync_after(db_session):
            user = User(name="s")
            db_session.add(user)
            db_session.commit()
            assert user.id == 1

        async def test_sessionmaker_sessions_see_each_others_commits(dualdb_async_sessionmaker):
            async with dualdb_async_sessionmaker() as first:
                first.add(User(name="a"))
                await first.commit()
            async with dualdb_async_sessionmaker() as second:
                second.add(User(name="b"))
                await second.rollback()
                assert await count(second) == 1

        async def test_error_inside_savepoint_then_continue(db_async_session):
            with pytest.raises(DBAPIError):
                async with db_async_session.begin_nested():
                    await db_async_session.execute(text("SELECT * FROM no_such_table"))
            db_async_session.add(User(name="after"))
            await db_async_session.commit()
            assert await count(db_async_session) == 1

        @pytest.mark.asyncio(loop_scope="module")
        async def test_module_loop_scope(db_async_session):
            db_async_session.add(User(name="m"))
            await db_async_session.flush()
            assert await count(db_async_session) == 1

        @pytest.fixture
        async def seeded(db_async_session):
            db_async_session.add(User(name="seed"))
            await db_async_session.commit()
            return db_async_session

        async def test_user_async_fixture(seeded, db_async_connection):
            assert (await db_async_connection.execute(text("SELECT count(*) FROM users"))).scalar() == 1

        async def test_engine_is_the_legs_database(db_async_engine, db_engine, dualdb_backend):
            assert isinstance(db_async_engine, AsyncEngine)
            assert db_async_engine.dialect.name == dualdb_backend.name
            assert db_async_engine.url.database == db_engine.url.database

        def test_sync_test_may_take_the_async_engine(db_async_engine):
            assert db_async_engine.sync_engine is not None

        async def test_sqlite_only_function(db_async_connection):
            await db_async_connection.execute(text("SELECT json_extract('{\\"a\\": 1}', '$.a')"))
        """,
    )
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=21, failed=1)
    report = inner.report()
    assert {t["verdict"] for t in report["tests"] if t["nodeid"] != "test_iso.py::test_sqlite_only_function"} == {
        "same"
    }
    # statement capture on async legs: the failing statement and its error are recorded
    diverged = entry(report, "test_iso.py::test_sqlite_only_function")
    assert diverged["verdict"] == "diverged"
    pg_errors = [s["error"] for s in diverged["legs"]["postgresql"]["statements"] if s["error"]]
    assert len(pg_errors) == 1 and "json_extract" in pg_errors[0]["message"]
    assert [s["rows"] for s in diverged["legs"]["sqlite"]["statements"]] == [[[1]]]


def test_async_fixtures_under_anyio_without_pytest_asyncio(inner):
    inner.project(
        MODELS,
        test_anyio="""
        import pytest
        from sqlalchemy import select
        from models import User

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_names(db_async_session, observe):
            db_async_session.add_all([User(name="b"), User(name="B"), User(name="a")])
            await db_async_session.commit()
            # LIKE ignores case on SQLite only (whatever the server's collation)
            found = await db_async_session.scalars(select(User.name).where(User.name.like("b%")).order_by(User.name))
            observe("names", found.all())

        def test_sync_test_gets_a_private_loop(db_async_session):
            assert db_async_session.bind is not None
        """,
    )
    result = inner.run("--dual-db", "-p", "no:asyncio")
    result.assert_outcomes(passed=4)
    assert inner.verdicts() == {
        "test_names": ("diverged", "value"),
        "test_sync_test_gets_a_private_loop": ("same", None),
    }


def test_async_fastapi_project_with_a_three_line_conftest(inner):
    shutil.copytree(PROJECTS / "async_app" / "shop", inner.pytester.path / "shop")
    inner.project(
        ini="dualdb_metadata = shop.models:Base\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function",
        conftest="""
        from dualdb.fastapi import async_client
        from shop.api import app, get_db
        import pytest_asyncio
        @pytest_asyncio.fixture
        async def client(db_async_session, observe):
            async with async_client(app, get_db, db_async_session, observe) as c:
                yield c
        """,
        test_api="""
        async def test_create(client):
            r = await client.post("/customers", json={"email": "ann@x.io", "name": "Ann"})
            assert r.status_code == 201

        async def test_search(client):
            await client.post("/customers", json={"email": "al@x.io", "name": "Alice"})
            await client.get("/customers", params={"name_like": "alice"})
        """,
    )
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=4)
    report = inner.report()
    verdicts = {t["nodeid"].split("::")[1]: (t["verdict"], t["kind"]) for t in report["tests"]}
    assert verdicts == {"test_create": ("same", None), "test_search": ("diverged", "value")}
    diff = entry(report, "test_api.py::test_search")["first_difference"]
    assert diff["label"].startswith("GET /customers")
    assert diff["values"]["sqlite"]["body"] == [{"id": 1, "name": "Alice"}]
    assert diff["values"]["postgresql"]["body"] == []
