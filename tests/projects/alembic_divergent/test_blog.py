import logging

import pytest
from sqlalchemy import text

from blog.models import Post, Tag, User

log = logging.getLogger("blog.tests")


def test_users(db_session, observe):
    db_session.add_all([User(name="ann"), User(name="bob")])
    db_session.commit()
    observe("ids", [u.id for u in db_session.query(User).order_by(User.id)])


def test_orphan_post_rejected(db_session):
    db_session.add(Post(author_id=999, title="orphan"))
    with pytest.raises(Exception, match="(?i)foreign key"):
        db_session.commit()


def test_tags(db_session):
    db_session.add(Tag(label="sql"))
    db_session.commit()
    assert db_session.query(Tag).count() == 1


async def test_tags_async(db_async_session):
    db_async_session.add(Tag(label="async"))
    await db_async_session.commit()
    assert (await db_async_session.execute(text("SELECT count(*) FROM tags"))).scalar() == 1


def test_logging_survives(caplog):
    log.warning("still listening")
    assert "still listening" in caplog.text
