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


class BinariesNotFound(DualdbError):
    """No usable ``initdb`` + ``postgres`` pair; the message says where we looked and how to fix it."""


class ServerError(DualdbError):
    """The local PostgreSQL server could not be prepared or started (one actionable line)."""


class MissingExtra(DualdbError, ImportError):
    """An integration's package is not installed; the message names the extra that brings it.

    Also an ``ImportError``, so ``except ImportError`` in user code keeps working.
    """


MISSING_EXTRA = (
    "{feature} needs {package}, which is not installed: "
    'pip install "pytest-dualdb[{extra}]" (or "pytest-dualdb[all]")'
)


def require_extra(module: str, extra: str, feature: str):  # noqa: ANN201 - the module
    """Import ``module`` for ``feature``, or raise ``MissingExtra`` naming the extra to install.

    The integrations (FastAPI, Hypothesis, async drivers) are optional so the
    plugin never changes a project's framework versions; this is the one place
    that tells a user which extra brings the missing piece.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = (exc.name or module).split(".")[0]
        raise MissingExtra(MISSING_EXTRA.format(feature=feature, package=package, extra=extra)) from exc


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
