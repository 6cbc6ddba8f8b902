"""Exceptions a user can cause, each carrying one actionable line.

The plugin turns these into a single ``pytest.UsageError`` at start-up rather
than letting a traceback repeat in every test.
"""

from __future__ import annotations


class DualdbError(Exception):
    """Base class: the message is one line saying what is wrong and how to fix it."""


class ConfigError(DualdbError):
    """A bad option or ini value."""


class MetadataError(DualdbError):
    """``dualdb_metadata`` names something that cannot be imported or is not a MetaData."""


class BackendError(DualdbError):
    """A backend could not be provisioned (server unreachable, missing privilege, ...)."""


def add_note(exc: BaseException, note: str) -> None:
    """Attach a note to an exception (PEP 678), also on Python 3.10 where ``add_note`` is missing.

    pytest shows ``__notes__`` under the traceback, and the report appends
    notes starting with ``dualdb:`` to the leg's error message.
    """
    notes = getattr(exc, "__notes__", None) or []
    if note in notes:
        return
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = [*notes, note]
