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

The ``client`` fixture combines both when the ini names the app::

    [pytest]
    dualdb_fastapi_app = myapp.main:app
    dualdb_fastapi_get_db = myapp.db:get_db
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from .errors import ConfigError


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


def _body(response: Any) -> Any:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            return response.json()
        except ValueError:
            pass
    text = response.text
    return text if len(text) <= 2000 else text[:2000] + "..."


def load_object(spec: str, ini_name: str) -> Any:
    """Import ``module:attribute`` named by an ini key, with a clear error."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{ini_name}: {spec!r} is not `module:attribute` (e.g. `myapp.main:app`)")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"{ini_name}: cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{ini_name}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj
