from sqlalchemy import select

from .db import SessionLocal, User


def add_user(name: str) -> int:
    with SessionLocal() as session:
        user = User(name=name)
        session.add(user)
        session.commit()
        return user.id


def find(pattern: str) -> list[str]:
    with SessionLocal() as session:
        return list(session.scalars(select(User.name).where(User.name.like(pattern)).order_by(User.id)))
