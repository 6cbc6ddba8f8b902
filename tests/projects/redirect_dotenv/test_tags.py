from sqlalchemy import select

from notes.db import Tag


def test_tags_sorted(session):
    session.add_all([Tag(label="beta"), Tag(label="alpha")])
    session.commit()
    assert session.scalars(select(Tag.label).order_by(Tag.label)).all() == ["alpha", "beta"]


def test_tag_lookup_ignores_case(session):
    session.add(Tag(label="Urgent"))
    session.commit()
    assert session.scalar(select(Tag).where(Tag.label.like("urgent"))) is not None


def test_debug_flag_from_dotenv():
    import os

    assert os.environ["NOTES_DEBUG"] == "1"
