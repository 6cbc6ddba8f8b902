import pytest
import pytest_asyncio
from fastapi.testclient import TestClient
from httpx import ASGITransport, AsyncClient

from shop import api, sync_api


# the async app under pytest-asyncio (strict mode: @pytest_asyncio.fixture) ...
@pytest_asyncio.fixture
async def client(db_async_session):
    api.app.dependency_overrides[api.get_db] = lambda: db_async_session
    async with AsyncClient(transport=ASGITransport(app=api.app), base_url="http://test") as c:
        yield c
    api.app.dependency_overrides.clear()


# ... and under anyio (@pytest.mark.anyio tests take plain async fixtures)
@pytest.fixture
async def anyio_client(db_async_session):
    api.app.dependency_overrides[api.get_db] = lambda: db_async_session
    async with AsyncClient(transport=ASGITransport(app=api.app), base_url="http://test") as c:
        yield c
    api.app.dependency_overrides.clear()


@pytest.fixture
def anyio_backend():
    return "asyncio"


# the sync twin
@pytest.fixture
def sync_client(db_session):
    sync_api.app.dependency_overrides[sync_api.get_db] = lambda: db_session
    with TestClient(sync_api.app) as c:
        yield c
    sync_api.app.dependency_overrides.clear()
