import pytest

from notes.db import Base, SessionLocal, engine


@pytest.fixture
def session():
    Base.metadata.create_all(engine)
    with SessionLocal() as session:
        yield session
    Base.metadata.drop_all(engine)
