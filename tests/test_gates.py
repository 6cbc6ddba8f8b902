"""CI gates: ``--dualdb-strict`` (divergences and schema findings), ``--dualdb-baseline``,
``dualdb_known(xfail=True)``. Inner pytest runs against the real engines."""

from __future__ import annotations

import pytest
from conftest import MODELS

DB_TEST = """
def test_a(db_session):
    pass
"""


def test_strict_without_dual_db_is_a_usage_error(inner):
    inner.project(MODELS, test_a=DB_TEST)
    result = inner.run("--dualdb-strict")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if "pytest-dualdb" in line]
    assert len(errors) == 1, result.stderr.str()
    assert "--dualdb-strict" in errors[0] and errors[0].rstrip().endswith("add --dual-db")
    assert "Traceback" not in result.stderr.str()
    result.stdout.no_fnmatch_line("*passed*")  # nothing ran
    assert inner.run("--dualdb-strict", "--dual-db").ret == 0
