"""Every exception the plugin raises, under one base, ``DualdbError``.

Most are mistakes a user can make, each carrying one actionable line; the pytest layer
turns them into a single usage error at start-up (``plugin.usage.usage_errors``) rather
than letting a traceback repeat in every test. As in Hypothesis, a mixin carries the
builtin type callers expect: ``MissingExtra`` is an ``ImportError``, ``ReportFileError`` a
``ValueError``, and ``DivergenceError`` (a ``dual`` test's finding) an ``AssertionError``,
so pytest reports it as a test failure.
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


class ReportFileError(DualdbError, ValueError):
    """A report file that cannot be read: the message says which file and what to do."""


class AsyncDriverMissing(DualdbError, RuntimeError):
    """An async driver (or greenlet) is not installed: the message says what to install."""


class DivergenceError(DualdbError, AssertionError):
    """SQLite and PostgreSQL disagreed on one call of a ``dual`` test; ``.result`` holds both
    sides (a ``dual.results.PairedResult``), ``.kind`` the kind of difference."""

    def __init__(self, message: str, result: object, kind: str, ordered: bool = True,
                 simplified_from: str | None = None):
        super().__init__(message)
        self.result = result
        self.kind = kind
        self.ordered = ordered
        self.simplified_from = simplified_from


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
