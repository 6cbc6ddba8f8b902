"""Fidelity on application-shaped suites: threads, factories, Faker, metadata forms, frameworks."""

from __future__ import annotations

import pytest
from support.models import MODELS

APP = '''
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import User

app = FastAPI()


def get_db():
    raise RuntimeError("the real database must not be used in tests")


class UserIn(BaseModel):
    name: str


@app.post("/users", status_code=201)
def create_user(body: UserIn, db: Session = Depends(get_db)):
    user = User(name=body.name)
    db.add(user)
    db.commit()
    return {"id": user.id, "name": user.name}


@app.get("/users")
def search_users(q: str = "", db: Session = Depends(get_db)):
    return [u.name for u in db.scalars(select(User).where(User.name.like(f"{q}%")).order_by(User.name))]


@app.get("/users/{user_id}")
def get_user(user_id: int, db: Session = Depends(get_db)):
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404)
    return {"id": user.id, "name": user.name}
'''


def test_testclient_threads_write_and_read_back(inner):
    inner.project(
        MODELS,
        ini="dualdb_fastapi_app = app:app\ndualdb_fastapi_get_db = app:get_db",
        app=APP,
        test_api="""
        from sqlalchemy import select
        from models import User

        def test_write_then_read(client, db_session):
            created = client.post("/users", json={"name": "pen"})
            assert created.status_code == 201
            assert client.get(f"/users/{created.json()['id']}").json()["name"] == "pen"
            assert db_session.scalars(select(User.name)).all() == ["pen"]

        def test_listing_order(client):
            for name in ["b", "B", "a"]:
                client.post("/users", json={"name": name})
            assert "b" in client.get("/users?q=b").json()

        def test_manual_override(db_session):
            from fastapi.testclient import TestClient
            from dualdb.fastapi import override_get_db
            from app import app, get_db

            with override_get_db(app, get_db, db_session), TestClient(app) as c:
                assert c.post("/users", json={"name": "x"}).status_code == 201
            assert db_session.query(User).count() == 1
        """,
    )
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=6)
    verdicts = inner.verdicts()
    assert verdicts["test_write_then_read"] == ("same", None)
    assert verdicts["test_manual_override"] == ("same", None)
    # the search matched case-insensitively on SQLite only: seen through the observed response body
    assert verdicts["test_listing_order"] == ("diverged", "value")
    diff = inner.entry("test_listing_order")["first_difference"]
    assert diff["label"] == "GET /users?q=b"
    assert diff["values"]["sqlite"]["body"] == ["B", "b"]
    assert diff["values"]["postgresql"]["body"] == ["b"]


FACTORIES = '''
import factory
from faker import Faker
from sqlalchemy import select

from models import Post, User

fake = Faker()


class UserFactory(factory.Factory):
    class Meta:
        model = User

    name = factory.Sequence(lambda n: f"user{n}")


def make_author(sessionmaker):
    """A factory that opens its own session, reads, and commits through another one."""
    reader = sessionmaker()
    existing = reader.scalars(select(User).where(User.name == "author")).first()
    if existing is None:
        writer = sessionmaker()
        writer.add(User(name="author"))
        writer.commit()
        writer.close()
    reader.close()
    check = sessionmaker()
    author = check.scalars(select(User).where(User.name == "author")).one()
    check.close()
    return author.id


def make_post(sessionmaker, title):
    author_id = make_author(sessionmaker)
    session = sessionmaker()
    post = Post(author_id=author_id, title=title, attrs={"words": fake.words(3)})
    session.add(post)
    session.commit()
    post_id = post.id
    session.close()
    return post_id
'''


def test_factories_faker_and_nested_sessions_report_zero_divergences(inner):
    inner.project(
        MODELS,
        factories=FACTORIES,
        test_app="""
        import random
        import uuid
        from sqlalchemy import select
        from factories import UserFactory, fake, make_post
        from models import Post, User

        def test_sequences_match(db_session, observe):
            users = [UserFactory() for _ in range(3)]
            db_session.add_all(users)
            db_session.commit()
            observe("names", [u.name for u in users])

        def test_faker_matches(db_session, observe):
            user = User(name=fake.first_name()[:20])
            db_session.add(user)
            db_session.commit()
            observe("name", user.name)
            observe("random", random.random())

        def test_nested_factories(dualdb_sessionmaker, observe):
            first = make_post(dualdb_sessionmaker, "hello")
            second = make_post(dualdb_sessionmaker, "again")
            session = dualdb_sessionmaker()
            observe("titles", sorted(session.scalars(select(Post.title))))
            observe("ids", [first, second])
            assert session.query(User).count() == 1

        def test_salted_hash_read_back_is_not_a_finding(db_session):
            import hashlib, secrets
            salt = secrets.token_hex(8)
            user = User(name=hashlib.sha256(salt.encode()).hexdigest()[:20])
            db_session.add(user)
            db_session.commit()
            db_session.expire_all()
            assert db_session.get(User, user.id).name == user.name

        def test_random_tokens_are_not_findings(db_session, observe):
            token = uuid.uuid4()
            observe("token", token)
            db_session.add(User(name=str(token)[:20]))
            db_session.commit()
        """,
    )
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=10)
    verdicts = inner.verdicts()
    assert {v for v, _ in verdicts.values()} == {"same"}, inner.report()["tests"]
    sqlite_obs = inner.entry("test_sequences_match")["legs"]["sqlite"]["observations"]
    assert sqlite_obs == [{"label": "names", "value": ["user0", "user1", "user2"]}]
    pg_obs = inner.entry("test_faker_matches")["legs"]["postgresql"]["observations"]
    assert pg_obs == inner.entry("test_faker_matches")["legs"]["sqlite"]["observations"]


METADATA_FORMS = {
    "subclass_of_base": ("models:Sub", "class Sub(Base):\n    __abstract__ = True\n"),
    "same_metadata_twice": ("models:Base\n    models:Base.metadata", ""),
}


@pytest.mark.parametrize("form", sorted(METADATA_FORMS))
def test_metadata_forms(inner, form):
    spec, extra = METADATA_FORMS[form]
    inner.project(ini=f"dualdb_metadata =\n    {spec}", test_m=TABLE_USING_TEST)
    inner.pytester.makepyfile(models=MODELS + "\n" + extra)
    inner.run("--dual-db").assert_outcomes(passed=2)


TABLE_USING_TEST = """
from models import User

def test_insert(db_session):
    db_session.add(User(name="x"))
    db_session.commit()
    assert db_session.query(User).count() == 1
"""


def test_metadata_from_src_layout_via_pythonpath_and_override(inner):
    pkg = inner.pytester.path / "src" / "myapp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(MODELS)
    inner.pytester.makefile(".ini", pytest="[pytest]\npythonpath = src\n")
    inner.pytester.makepyfile(test_m=TABLE_USING_TEST.replace("from models", "from myapp.models"))
    inner.run("--dual-db", "-o", "dualdb_metadata=myapp.models:Base").assert_outcomes(passed=2)


def test_tables_registered_when_a_test_module_is_imported(inner):
    inner.project(
        "from sqlalchemy.orm import DeclarativeBase\n\nclass Base(DeclarativeBase):\n    pass\n",
        test_late="""
        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column
        from models import Base

        class Late(Base):
            __tablename__ = "late"
            id: Mapped[int] = mapped_column(primary_key=True)
            label: Mapped[str] = mapped_column(String(10))

        def test_late_table(db_session):
            db_session.add(Late(label="x"))
            db_session.commit()
            assert db_session.query(Late).count() == 1
        """,
    )
    inner.run("--dual-db").assert_outcomes(passed=2)


def test_flask_sqlalchemy_recipe(inner):
    inner.project(
        ini="dualdb_metadata = flaskapp:db.Model",
        flaskapp="""
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column

        db = SQLAlchemy()

        class Note(db.Model):
            id: Mapped[int] = mapped_column(primary_key=True)
            text: Mapped[str] = mapped_column(String(50))

        def create_app():
            app = Flask(__name__)
            app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///must-not-be-used.db"
            db.init_app(app)

            @app.post("/notes")
            def add_note():
                db.session.add(Note(text="hi"))
                db.session.commit()
                return {"count": db.session.query(Note).count()}

            return app
        """,
        conftest="""
        import pytest
        from dualdb.flask import flask_sqlalchemy_session
        from flaskapp import create_app, db

        @pytest.fixture
        def app():
            return create_app()

        @pytest.fixture
        def session(app, db_connection):
            with flask_sqlalchemy_session(db, app, db_connection) as session:
                yield session
        """,
        test_flask="""
        from flaskapp import Note

        def test_post_note(app, session):
            with app.test_client() as c:
                assert c.post("/notes").json == {"count": 1}
                assert c.post("/notes").json == {"count": 2}
            assert session.query(Note).count() == 2

        def test_nothing_left(app, session):
            assert session.query(Note).count() == 0
        """,
    )
    inner.run("--dual-db", "-p", "no:randomly").assert_outcomes(passed=4)
    assert not (inner.pytester.path / "instance" / "must-not-be-used.db").exists()
    assert not (inner.pytester.path / "must-not-be-used.db").exists()


def test_lock_wait_fails_with_hint_instead_of_hanging(inner):
    inner.project(
        MODELS,
        ini="dualdb_lock_timeout_ms = 300",
        test_lock="""
        from sqlalchemy import text

        def test_second_connection_blocks(db_connection, db_engine):
            db_connection.execute(text("INSERT INTO users (id, name, active) VALUES (1, 'x', true)"))
            with db_engine.connect() as other:
                other.execute(text("INSERT INTO users (id, name, active) VALUES (1, 'y', true)"))
        """,
    )
    result = inner.run("--dual-db", subprocess=True)
    result.assert_outcomes(failed=2)
    assert "waited too long for a lock" in result.stdout.str()
