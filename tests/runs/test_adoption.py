"""A new user's first ``--dual-db`` run: every silent trap is said once, in one line, with the way out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.models import MODELS

OWN_SESSION_CONFTEST = '''
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from models import Base


@pytest.fixture
def db_session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
'''

TWO_DB_TESTS = '''
from models import User


def test_add(db_session):
    db_session.add(User(name="ada"))
    db_session.commit()


def test_empty(db_session):
    assert db_session.query(User).count() == 0
'''


def _lines(result: pytest.RunResult, fragment: str) -> list[str]:
    return [line for line in result.outlines + result.errlines if fragment in line]


def test_own_db_session_shadowing_the_plugins_is_said_once(inner):
    inner.project(MODELS, conftest=OWN_SESSION_CONFTEST, test_a=TWO_DB_TESTS)
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=2)  # once each: nothing was compared
    lines = _lines(result, "shadows the plugin's")
    assert len(lines) == 1, result.stdout.str()
    assert "`db_session` (conftest.py:" in lines[0]
    assert "2 test(s)" in lines[0]
    assert "delete yours" in lines[0] and "--dualdb-redirect" in lines[0]


def test_own_fixtures_in_a_subfolder_conftest_are_named_by_path(inner):
    inner.project(MODELS)
    inner.pytester.mkpydir("tests")
    (inner.pytester.path / "tests" / "conftest.py").write_text(
        OWN_SESSION_CONFTEST + "\n\n@pytest.fixture\ndef client():\n    return object()\n"
    )
    (inner.pytester.path / "tests" / "test_a.py").write_text(TWO_DB_TESTS + "\n\ndef test_api(client):\n    pass\n")
    result = inner.run("--dual-db")
    lines = _lines(result, "shadow the plugin's")
    assert len(lines) == 1, result.stdout.str()
    assert "`client` (tests/conftest.py:" in lines[0] and "`db_session` (tests/conftest.py:" in lines[0]


def test_a_fixture_built_on_the_plugins_is_not_a_trap(inner):
    inner.project(
        MODELS,
        conftest="import pytest\n\n\n@pytest.fixture\ndef db_session(db_session):\n    yield db_session\n",
        test_a=TWO_DB_TESTS,
    )
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=4)
    assert not _lines(result, "the plugin's, so")


def test_shadowing_is_not_mentioned_without_dual_db(inner):
    inner.project(MODELS, conftest=OWN_SESSION_CONFTEST, test_a=TWO_DB_TESTS)
    result = inner.run()
    result.assert_outcomes(passed=2)
    assert not _lines(result, "the plugin's, so")


def test_shadowing_found_by_xdist_workers_is_said_once(inner):
    inner.project(MODELS, conftest=OWN_SESSION_CONFTEST, test_a=TWO_DB_TESTS)
    result = inner.run("--dual-db", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=2)
    lines = _lines(result, "shadows the plugin's")
    assert len(lines) == 1, result.stdout.str()


def test_dual_db_without_a_schema_warns_once_and_missing_tables_are_one_line(inner):
    inner.project(test_a=TWO_DB_TESTS.replace("from models import User", "from models_ import User"))
    inner.pytester.makepyfile(models_=MODELS)
    result = inner.run("--dual-db", "--tb=no")
    result.assert_outcomes(failed=4)
    warned = _lines(result, "without dualdb_metadata or dualdb_alembic_config")
    assert len(warned) == 1, result.stdout.str()
    summary = _lines(result, "failed on both engines because table")
    assert summary == [
        "2 test(s) failed on both engines because table users does not exist: set dualdb_metadata = "
        "yourapp.models:Base (or dualdb_alembic_config = alembic.ini) in pytest.ini"
    ]


def test_no_schema_warning_when_metadata_is_set(inner):
    inner.project(MODELS, test_a=TWO_DB_TESTS)
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=4)
    assert not _lines(result, "without dualdb_metadata")
    assert not _lines(result, "does not exist")


def test_the_summary_names_every_report_file(inner):
    inner.project(MODELS, test_a=TWO_DB_TESTS)
    result = inner.run("--dual-db", "--dualdb-report-dir=out")
    (line,) = _lines(result, "report: ")
    assert line == "report: out/dualdb.json, out/dualdb.md, out/dualdb.html"
    assert {p.name for p in (inner.pytester.path / "out").iterdir()} >= {"dualdb.json", "dualdb.md", "dualdb.html"}


@pytest.mark.parametrize("option", ["--dualdb-report-dir", "--dualdb-baseline"])
def test_value_option_with_a_space_and_an_existing_path_is_one_clear_error(inner, option):
    inner.project(MODELS, test_a=TWO_DB_TESTS)
    target = inner.pytester.path.parent / f"elsewhere-{option[2:]}"
    target.mkdir()
    if option == "--dualdb-baseline":
        target = target / "accepted.txt"
        target.write_text("")
    result = inner.run("--dual-db", option, str(target))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = _lines(result, "pytest-dualdb:")
    assert len(lines) == 1, result.stdout.str() + result.stderr.str()
    assert f"write {option}={target}" in lines[0] and "pytest.ini may be ignored" in lines[0]


def test_value_option_with_equals_keeps_the_projects_ini(inner):
    inner.project(MODELS, test_a=TWO_DB_TESTS)
    elsewhere = inner.pytester.path.parent / "elsewhere-eq"
    elsewhere.mkdir()
    result = inner.run("--dual-db", f"--dualdb-report-dir={elsewhere}")
    result.assert_outcomes(passed=4)  # dualdb_metadata (from pytest.ini) was read: the tables exist
    assert json.loads((elsewhere / "dualdb.json").read_text())["summary"]["same"] == 2


def test_client_without_fastapi_is_one_line_at_start(inner):
    inner.project(
        MODELS,
        conftest="import sys\n\nsys.modules['fastapi'] = None  # as if FastAPI were not installed\n",
        test_a="def test_one(client):\n    pass\n\n\ndef test_two(client):\n    pass\n",
    )
    result = inner.run("--dual-db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [line for line in result.errlines if line.startswith("ERROR: pytest-dualdb:")]
    assert "the `client` fixture (2 test(s)) needs fastapi" in line
    assert 'pip install "pytest-dualdb[fastapi]"' in line


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [("dualdb.hypothesis", "hypothesis", "hypothesis"), ("dualdb.fastapi", "fastapi", "fastapi"),
     ("dualdb.fastapi", "httpx", "fastapi")],
)
def test_integrations_name_their_extra_when_missing(module, blocked, extra):
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "try:\n"
        f"    import {module}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("MissingExtra "), done.stdout + done.stderr
    assert f'needs {blocked}, which is not installed: pip install "pytest-dualdb[{extra}]"' in done.stdout


def test_plain_pytest_does_not_load_the_database_code(pytester):
    """Installed but unused, the plugin imports only its hooks and fixture definitions."""
    pytester.makeconftest(
        "import sys\n\n\ndef pytest_unconfigure(config):\n"
        "    loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dualdb', 'sqlalchemy', 'psycopg'))\n"
        "    print('LOADED', ' '.join(loaded))\n"
    )
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    (line,) = [line for line in result.outlines if line.startswith("LOADED")]
    loaded = set(line.split()[1:])
    assert "dualdb.plugin" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("sqlalchemy", "psycopg")}, loaded
    heavy = {"dualdb.run.state", "dualdb.capture.events", "dualdb.engines.provision", "dualdb.contrib.strategies", "dualdb.dual.runner",
             "dualdb.contrib.fastapi", "dualdb.report.model"}
    assert not loaded & heavy, loaded
