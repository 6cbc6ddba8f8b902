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


PARAMETRIZED = """
import pytest
from sqlalchemy import select
from models import User


@pytest.mark.parametrize("n", range(3))
def test_like(db_session, observe, n):
    db_session.add_all([User(name="b"), User(name="B")])
    db_session.commit()
    observe("names", sorted(db_session.scalars(select(User.name).where(User.name.like("b%"))).all()))
"""


def test_baseline_lines_copied_from_pytest_output_accept_parametrized_tests(inner):
    """``test_like[1-sqlite]`` as pytest prints it (``-v`` line, short summary, bare id)
    names the test ``test_like[1]``: the parameter ids stay, only the backend goes."""
    inner.project(MODELS, test_p=PARAMETRIZED)
    first = inner.run("--dual-db", "-v", "-rA")
    assert set(inner.verdicts().values()) == {("diverged", "value")}  # SQLite's LIKE ignores case
    verbose = next(line for line in first.stdout.lines if line.startswith("test_p.py::test_like[0-sqlite] PASSED"))
    summary = next(line for line in first.stdout.lines if line.startswith("PASSED test_p.py::test_like[1-postgresql]"))
    baseline = inner.pytester.path / "accepted.txt"
    baseline.write_text(f"{verbose}\n{summary}\n")
    result = inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(baseline))
    assert result.ret == 1
    assert inner.report()["baseline"]["new"] == ["test_p.py::test_like[2]"]
    assert inner.report()["baseline"]["accepted"] == ["test_p.py::test_like[0]", "test_p.py::test_like[1]"]

    baseline.write_text(f"{verbose}\n{summary}\ntest_p.py::test_like[2-sqlite]  # copied by hand\n")
    result = inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(baseline))
    assert result.ret == 0, result.stdout.str()
    info = inner.report()["baseline"]
    assert info["new"] == [] and info["disappeared"] == []
    assert info["accepted"] == [f"test_p.py::test_like[{n}]" for n in range(3)]
