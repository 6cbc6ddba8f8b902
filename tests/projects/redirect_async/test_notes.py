from sqlalchemy import func, select

from models import Note


async def test_add_notes(session):
    session.add_all([Note(body="one"), Note(body="two")])
    await session.commit()
    assert await session.scalar(select(func.count()).select_from(Note)) == 2


async def test_search_ignores_case(session):
    session.add(Note(body="Buy MILK"))
    await session.commit()
    found = (await session.scalars(select(Note.body).where(Note.body.like("%milk%")))).all()
    assert found == ["Buy MILK"]  # SQLite's LIKE ignores ASCII case


def test_sync_helper():
    assert len("note") == 4
