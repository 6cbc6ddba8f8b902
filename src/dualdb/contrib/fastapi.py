"""FastAPI integration: give the app's ``get_db`` dependency the test's sessions.

Two pieces, usable separately:

* ``override_get_db(app, get_db, sessions)`` — a context manager that points
  the app's session dependency at the test's transaction. ``sessions`` is
  either one ``Session`` (every request shares it, as in the classic recipe)
  or a ``sessionmaker`` such as ``dualdb_sessionmaker`` (each request gets its
  own session, closed after the request, like a real ``get_db``).
* ``ObservingClient`` — a ``TestClient`` that records every response (status
  and body) with ``observe``, so an API test that passes on both engines but
  returns different JSON is reported as diverged.

For async apps, ``async_client(app, get_db, db_async_session, observe)`` is
the same for ``httpx.AsyncClient`` — a whole conftest is three lines::

    @pytest_asyncio.fixture
    async def client(db_async_session, observe):
        async with async_client(app, get_db, db_async_session, observe) as c:
            yield c

The ``client`` fixture combines both when the ini names the app::

    [pytest]
    dualdb_fastapi_app = myapp.main:app
    dualdb_fastapi_get_db = myapp.db:get_db
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from dualdb.errors import require_extra

# FastAPI and httpx (which its TestClient needs; Starlette raises a RuntimeError without it) are the
# [fastapi] extra, not dependencies
_FEATURE = "dualdb.fastapi (and the `client` fixture)"
require_extra("httpx", "fastapi", _FEATURE)
TestClient = require_extra("fastapi.testclient", "fastapi", _FEATURE).TestClient


@contextmanager
def override_get_db(app: Any, get_db: Callable, sessions: Session | sessionmaker) -> Iterator[None]:
    """Route ``get_db`` to the test's session(s) while the block runs; restore after."""
    if isinstance(sessions, Session):

        def _shared() -> Iterator[Session]:
            yield sessions

        dependency = _shared
    else:

        def _per_request() -> Iterator[Session]:
            session = sessions()
            try:
                yield session
            finally:
                session.close()

        dependency = _per_request
    previous = app.dependency_overrides.get(get_db)
    app.dependency_overrides[get_db] = dependency
    try:
        yield
    finally:
        if previous is None:
            app.dependency_overrides.pop(get_db, None)
        else:
            app.dependency_overrides[get_db] = previous


class ObservingClient(TestClient):
    """A ``TestClient`` that observes each response as ``"<METHOD> <path>"`` -> status and body."""

    def __init__(self, app: Any, observe: Callable[[str, Any], None], **kwargs: Any):
        super().__init__(app, **kwargs)
        self._observe = observe

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any):  # noqa: ANN201
        response = super().request(method, url, *args, **kwargs)
        self._observe(f"{method.upper()} {url}", {"status": response.status_code, "body": _body(response)})
        return response


@asynccontextmanager
async def async_client(
    app: Any,
    get_db: Callable,
    session: Any,
    observe: Callable[[str, Any], None] | None = None,
    base_url: str = "http://test",
) -> AsyncIterator[Any]:
    """An ``httpx.AsyncClient`` on ``app`` whose ``get_db`` yields the test's ``AsyncSession``.

    With ``observe``, every response (status and body) is recorded, so an
    endpoint returning different data on the two engines is reported.
    """
    httpx = require_extra("httpx", "fastapi", "dualdb.contrib.fastapi.async_client")

    async def _shared() -> AsyncIterator[Any]:
        yield session

    hooks = {}
    if observe is not None:

        async def _record(response: Any) -> None:
            await response.aread()
            request = response.request
            target = request.url.raw_path.decode() if hasattr(request.url, "raw_path") else str(request.url)
            observe(f"{request.method} {target}", {"status": response.status_code, "body": _body(response)})

        hooks = {"response": [_record]}
    previous = app.dependency_overrides.get(get_db)
    app.dependency_overrides[get_db] = _shared
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, event_hooks=hooks) as client:
            yield client
    finally:
        if previous is None:
            app.dependency_overrides.pop(get_db, None)
        else:
            app.dependency_overrides[get_db] = previous


def _body(response: Any) -> Any:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            return response.json()
        except ValueError:
            pass
    text = response.text
    return text if len(text) <= 2000 else text[:2000] + "..."
