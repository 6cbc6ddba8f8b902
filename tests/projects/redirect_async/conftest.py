"""An async engine on a SQLite file (aiosqlite), tables rebuilt for each test."""

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from models import Base


@pytest.fixture
async def session():
    engine = create_async_engine("sqlite+aiosqlite:///notes.db")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
    await engine.dispose()
