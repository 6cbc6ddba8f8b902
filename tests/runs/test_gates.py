"""CI gates: ``--dualdb-strict`` (divergences and schema findings), ``--dualdb-baseline``,
``dualdb_known(xfail=True)``. Inner pytest runs against the real engines."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from support.models import MODELS

PROJECTS = Path(__file__).parents[1] / "projects"

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


# -- schema findings -----------------------------------------------------------------------

DRIFT_ID = "drift:sqlite:foreign key posts(author_id) -> users(id)"


def alembic_project(inner, known_schema: str = "") -> None:  # noqa: ANN001
    """``alembic_divergent``: c3 fails on SQLite, b2 loses a foreign key on SQLite. Only
    ``test_users`` is run (it agrees on both engines), so the findings alone decide strict mode."""
    shutil.copytree(PROJECTS / "alembic_divergent", inner.pytester.path, dirs_exist_ok=True)
    if known_schema:
        ini = inner.pytester.path / "pytest.ini"
        ini.write_text(ini.read_text() + f"dualdb_known_schema =\n{textwrap.indent(known_schema, '    ')}\n")


def test_strict_fails_on_schema_findings_nothing_acknowledges(inner):
    alembic_project(inner)
    assert inner.run("--dual-db", "-k", "test_users").ret == 0  # findings alone fail only a strict run
    result = inner.run("--dual-db", "--dualdb-strict", "-k", "test_users")
    assert result.ret == 1
    result.assert_outcomes(passed=2)
    assert inner.verdicts() == {"test_users": ("same", None)}
    result.stdout.fnmatch_lines(
        [
            "*--dualdb-strict: 2 schema finding(s) not acknowledged (fix the migration, or list the revision "
            "or the id in the ini key dualdb_known_schema or the --dualdb-baseline file):",
            "  migration:sqlite:c3  (migration failed on sqlite: c3 (tags, and users.name becomes required))",
            f"  {DRIFT_ID}  (drift on sqlite: foreign key posts(author_id) -> users(id), revision b2)",
        ]
    )
    assert "divergence(s) not acknowledged" not in result.stdout.str()
    findings = {f["id"]: f for f in inner.report()["schema_findings"]}
    assert set(findings) == {"migration:sqlite:c3", DRIFT_ID}
    assert {f["acknowledged"] for f in findings.values()} == {None}


def test_dualdb_known_schema_acknowledges_by_revision_or_finding_id(inner):
    alembic_project(inner, known_schema="c3\n")
    result = inner.run("--dual-db", "--dualdb-strict", "-k", "test_users")
    assert result.ret == 1  # the drift still blocks
    result.stdout.fnmatch_lines(["*1 schema finding(s) not acknowledged*", f"  {DRIFT_ID}  (*"])
    result.stdout.no_fnmatch_line("  migration:sqlite:c3  (*")
    [c3_line] = [line for line in result.stdout.lines if line.startswith("schema: sqlite: migration c3 ")]
    assert c3_line.endswith("[acknowledged: dualdb_known_schema]")

    alembic_project(inner, known_schema=f"c3\n# the batch-mode rebuild, ticket 42\n{DRIFT_ID}\nz9\n")
    result = inner.run("--dual-db", "--dualdb-strict", "-k", "test_users")
    assert result.ret == 0, result.stdout.str()
    assert {f["acknowledged"] for f in inner.report()["schema_findings"]} == {"dualdb_known_schema"}
    result.stdout.fnmatch_lines(["dualdb_known_schema: z9 matches no schema finding of this run: remove it"])
    assert "not acknowledged" not in result.stdout.str()

    alembic_project(inner, known_schema="c3\nb2\n")  # the drift's revision acknowledges it too
    assert inner.run("--dual-db", "--dualdb-strict", "-k", "test_users").ret == 0


def test_baseline_acknowledges_schema_findings(inner):
    alembic_project(inner)
    inner.run("--dual-db", "-k", "test_users")
    previous = inner.pytester.path / "accepted.json"
    previous.write_text((inner.pytester.path / "reports" / "dualdb.json").read_text())
    result = inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(previous), "-k", "test_users")
    assert result.ret == 0, result.stdout.str()
    report = inner.report()
    assert {f["acknowledged"] for f in report["schema_findings"]} == {"baseline"}
    assert sorted(report["baseline"]["schema_accepted"]) == sorted(["migration:sqlite:c3", DRIFT_ID])
    assert report["baseline"]["schema_new"] == []

    # a node-id file: a line naming the revision, next to node ids
    ids = inner.pytester.path / "accepted.txt"
    ids.write_text("test_blog.py::test_tags[sqlite]\nc3   # fails on SQLite, being fixed\n")
    result = inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(ids), "-k", "test_users")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*1 schema finding(s) not acknowledged*", f"  {DRIFT_ID}  (*"])
    report = inner.report()
    assert report["baseline"]["schema_accepted"] == ["migration:sqlite:c3"]
    assert report["baseline"]["schema_new"] == [DRIFT_ID]
    ids.write_text(f"c3\n{DRIFT_ID}\n")
    assert inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(ids), "-k", "test_users").ret == 0


# -- dualdb_known(xfail=True) ---------------------------------------------------------------

KNOWN_XFAIL = """
import pytest
from sqlalchemy import select
from models import User


@pytest.mark.dualdb_known(reason="LIKE ignores case on SQLite only, ticket 12", xfail=True)
def test_like(db_session):
    db_session.add(User(name="Alice"))
    db_session.commit()
    assert db_session.scalars(select(User).where(User.name.like("alice"))).all()  # fails on PostgreSQL


@pytest.mark.dualdb_known(reason="was a LIKE, fixed since", xfail=True)
def test_fixed(db_session):
    db_session.add(User(name="Alice"))
    db_session.commit()
    assert db_session.scalars(select(User).where(User.name.ilike("alice"))).all()


@pytest.mark.dualdb_known("broken everywhere now", xfail=True)
def test_broken(db_session):
    assert db_session.get(User, 1) is not None


def test_plain(db_session):
    pass
"""


def test_known_xfail_reports_the_failing_leg_as_xfailed(inner):
    inner.project(MODELS, test_k=KNOWN_XFAIL)
    result = inner.run("--dual-db", "--dualdb-strict", "-rxXf", "-k", "not broken")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=4, xfailed=1, xpassed=1)
    result.stdout.fnmatch_lines_random(
        [
            "XFAIL test_k.py::test_like[[]postgresql[]] - dualdb_known(xfail=True): LIKE ignores case on SQLite only*",
            "XPASS test_k.py::test_fixed[[]postgresql[]]*dualdb_known(xfail=True): was a LIKE, fixed since "
            "(passed on both engines: the expected failure is gone)",
            "warning: known divergence no longer diverges: test_k.py::test_fixed (both engines pass and agree): "
            "remove the dualdb_known marker",
        ]
    )
    # the report keeps the real outcomes: the divergence is still there, and known
    like = inner.entry("test_like")
    assert (like["verdict"], like["kind"]) == ("known", "outcome")
    assert like["known_reason"] == "LIKE ignores case on SQLite only, ticket 12"
    assert like["legs"]["sqlite"]["outcome"] == "passed"
    assert like["legs"]["postgresql"]["outcome"] == "failed"
    assert inner.entry("test_fixed")["verdict"] == "same"
    assert any("no longer diverges: test_k.py::test_fixed" in w for w in inner.report()["warnings"])
    markdown = (inner.pytester.path / "reports" / "dualdb.md").read_text()
    assert "no longer diverges" in markdown


def test_known_xfail_failing_on_both_engines_is_a_failure(inner):
    inner.project(MODELS, test_k=KNOWN_XFAIL)
    result = inner.run("--dual-db", "-rxXf", "-k", "broken")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(xfailed=1, failed=1)  # the first leg to fail is the expected one; the second is not
    out = result.stdout.str()
    assert "failed on sqlite too: the marker expects one engine to pass" in out
    result.stdout.fnmatch_lines(
        ["dualdb_known(xfail=True): test_k.py::test_broken failed on both engines; the marker expects one to pass*"]
    )
    assert inner.entry("test_broken")["verdict"] == "failed_both"
    # without --dual-db there is no divergence to expect: the test fails as written
    inner.run("-k", "broken").assert_outcomes(failed=1)
    # --runxfail: pytest's switch to ignore xfail marks applies to these too
    inner.run("--dual-db", "--runxfail", "-k", "like").assert_outcomes(passed=1, failed=1)


@pytest.mark.slow
def test_known_xfail_under_xdist(inner):
    inner.project(MODELS, test_k=KNOWN_XFAIL)
    result = inner.run("--dual-db", "-n", "2", "-k", "not broken", subprocess=True)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=4, xfailed=1, xpassed=1)  # both legs of a test on one worker
    # worksteal gives each worker one leg: both xfailed, neither knew the other failed; the end of
    # the run sees it in the report and fails the run
    result = inner.run("--dual-db", "-n", "2", "--dist", "worksteal", "-k", "broken", subprocess=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*dualdb_known(xfail=True): test_k.py::test_broken failed on both engines*"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('reason="x", xfail="yes"', "dualdb_known: xfail must be True or False, got 'yes'"),
        ('reason="x", xfial=True', "dualdb_known: validate_known() got an unexpected keyword argument 'xfial'"),
        ("", "dualdb_known: validate_known() missing 1 required positional argument: 'reason'"),
    ],
)
def test_known_marker_arguments_are_checked_like_a_call(inner, arguments, message):
    inner.project(
        MODELS,
        test_a=f"""
        import pytest

        @pytest.mark.dualdb_known({arguments})
        def test_a(db_session):
            pass
        """,
    )
    result = inner.run("--dual-db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"pytest-dualdb: test_a.py::test_a[sqlite]: {message}" in result.stderr.str()


def test_known_xfail_on_a_dual_test_is_a_usage_error(inner):
    inner.project(
        MODELS,
        test_a="""
        import pytest

        @pytest.mark.dualdb_known(reason="x", xfail=True)
        def test_a(dual):
            pass
        """,
    )
    result = inner.run("--dual-db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "a test using `dual` runs both engines in one test: use @pytest.mark.xfail" in result.stderr.str()


RERUN_TESTS = """
from sqlalchemy import select
from models import User

PG_RUNS = []


def test_like_is_case_sensitive_on_postgresql(db_session, observe):
    db_session.add(User(name="Alice"))
    observe("found", db_session.scalars(select(User.name).where(User.name.like("al%"))).all())


def test_first_run_on_postgresql_differs(db_session, dualdb_backend, observe):
    # stands for a nondeterministic result (an ORDER BY over ties, a race): only the first run differs
    if dualdb_backend.name == "postgresql":
        PG_RUNS.append(1)
    observe("value", 1 if len(PG_RUNS) == 1 and dualdb_backend.name == "postgresql" else 0)
"""


def test_a_diverged_test_is_run_again_and_a_divergence_that_does_not_reproduce_is_named(inner):
    inner.project(MODELS, test_rerun=RERUN_TESTS)
    result = inner.run("--dual-db", "--dualdb-strict")
    entries = {t["nodeid"].split("::")[-1]: t for t in inner.report()["tests"]}
    stable = entries["test_like_is_case_sensitive_on_postgresql"]
    assert stable["verdict"] == "diverged"
    assert stable["rerun"] == {"runs": 1, "reproduced": True, "nondeterministic": []}
    flaky = entries["test_first_run_on_postgresql_differs"]
    assert flaky["verdict"] == "diverged"
    assert flaky["rerun"] == {"runs": 1, "reproduced": False, "nondeterministic": ["postgresql"]}
    result.stdout.fnmatch_lines([
        "not reproduced when run again (nondeterministic: postgresql; *): *test_first_run_on_postgresql_differs"
    ])
    result.stdout.fnmatch_lines(["*--dualdb-strict: 1 divergence(s) not acknowledged*"])  # only the stable one
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "4 passed" in result.stdout.str()  # re-runs are quiet: pytest counts the first run only


def test_reruns_can_be_turned_off_and_then_every_divergence_counts(inner):
    inner.project(MODELS, ini="dualdb_reruns = 0", test_rerun=RERUN_TESTS)
    result = inner.run("--dual-db", "--dualdb-strict")
    assert all(t["rerun"] is None for t in inner.report()["tests"])
    result.stdout.fnmatch_lines(["*--dualdb-strict: 2 divergence(s) not acknowledged*"])


def test_a_flaky_divergence_alone_does_not_fail_strict(inner):
    inner.project(MODELS, test_rerun=RERUN_TESTS.split("def test_like_is")[0]
                  + "def test_first" + RERUN_TESTS.split("def test_first")[1])
    result = inner.run("--dual-db", "--dualdb-strict")
    assert result.ret == 0, result.stdout.str()
    assert inner.report()["tests"][0]["rerun"]["reproduced"] is False


@pytest.mark.slow
def test_under_xdist_the_worker_that_ran_both_legs_runs_them_again(inner):
    inner.project(MODELS, test_rerun=RERUN_TESTS)
    result = inner.run("--dual-db", "--dualdb-strict", "-n", "2", subprocess=True)
    entries = {t["nodeid"].split("::")[-1]: t for t in inner.report()["tests"]}
    assert entries["test_like_is_case_sensitive_on_postgresql"]["rerun"]["reproduced"] is True
    assert entries["test_first_run_on_postgresql_differs"]["rerun"] == {
        "runs": 1, "reproduced": False, "nondeterministic": ["postgresql"]}
    result.stdout.fnmatch_lines(["*--dualdb-strict: 1 divergence(s) not acknowledged*"])
