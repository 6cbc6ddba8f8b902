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
