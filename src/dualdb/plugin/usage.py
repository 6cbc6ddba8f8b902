"""The one place a user's mistake (a ``DualdbError``) becomes pytest's usage error.

A bad URL, an unreachable server or a ``dualdb_metadata`` line that does not import stops
the run once, at start-up, with the error's one line — not a traceback in every test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from dualdb.errors import DualdbError

PREFIX = "pytest-dualdb: "


@contextmanager
def usage_errors(context: str = "") -> Iterator[None]:
    """Turn a ``DualdbError`` raised inside the block into ``pytest.UsageError`` (``context``
    names what was being checked, e.g. a test's node id)."""
    try:
        yield
    except DualdbError as exc:
        raise usage_error(f"{context}{exc}") from None


def usage_error(message: str) -> pytest.UsageError:
    """A usage error with the plugin's prefix, for the checks that are not exceptions."""
    return pytest.UsageError(message if message.startswith(PREFIX) else PREFIX + message)
