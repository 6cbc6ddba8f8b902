"""The models most inner projects use, as source text an inner run writes to its ``models.py``
(``inner.project(MODELS, ...)``, ``pytester.makepyfile(models=MODELS)``).

Two tables: ``users`` (id, a ``String(20)`` name, a boolean ``active``) and ``posts`` (an
author foreign key, a title, a JSON ``attrs``, a ``Numeric(10, 2)`` score). A test whose
divergence needs another column keeps its own models, and says so where it defines them.
"""

MODELS = '''
from sqlalchemy import ForeignKey, Integer, String, JSON, Numeric, Boolean
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(100))
    attrs: Mapped[dict] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Numeric(10, 2), default=0)
'''
