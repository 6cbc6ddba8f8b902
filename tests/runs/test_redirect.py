"""Redirect mode: each pattern project, unchanged, under ``--dual-db --dualdb-redirect``.

Each project under ``tests/projects/redirect_*`` is a small suite written the
way real suites are (its own engine and isolation, no plugin fixture). It is
copied into a pytester folder and run twice: without the plugin
(``-p no:dualdb``), and in redirect mode against the session server. The
report must give the expected verdicts, and the SQLite worker's pass/fail per
test must equal the plain run's (the SQLite leg runs the suite as it always runs).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from support.databases import database_names

PROJECTS = Path(__file__).parents[1] / "projects"
OUTCOME = re.compile(r"^(?:\[(gw\d+)\] \[\s*\d+%\] )?(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+::\S+)")
PLAIN = re.compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)")


def copy_project(inner, name: str) -> None:
    shutil.copytree(PROJECTS / name, inner.pytester.path, dirs_exist_ok=True)


def plain_outcomes(inner) -> dict[str, str]:
    """Each test's outcome in the suite's own run, the plugin disabled."""
    result = inner.run("-p", "no:dualdb", "-v", subprocess=True)
    return {m.group(1): m.group(2) for m in map(PLAIN.match, result.outlines) if m}


def redirect_run(inner, *args: str) -> tuple[pytest.RunResult, dict[str, dict[str, str]]]:
    """The redirect run, and each worker's outcomes (gw0 runs SQLite, gw1 PostgreSQL)."""
    result = inner.run("--dual-db", "--dualdb-redirect", "-v", *args, subprocess=True)
    legs: dict[str, dict[str, str]] = {"sqlite": {}, "postgresql": {}}
    names = {"gw0": "sqlite", "gw1": "postgresql"}
    for match in map(OUTCOME.match, result.outlines):
        if match and match.group(1):
            legs[names[match.group(1)]][match.group(3)] = match.group(2)
    return result, legs


EXPECTED = {
    "redirect_module_engine": {
        "test_users.py::test_add_and_find": ("same", None),
        "test_users.py::test_like_is_case_insensitive": ("diverged", "collation"),
    },
    "redirect_fixture_engine": {
        "test_products.py::test_total_price": ("same", None),
        "test_products.py::test_each_test_starts_empty": ("same", None),
        "test_products.py::test_long_code_is_kept": ("diverged", "types"),
    },
    "redirect_flask": {
        "test_blog.py::test_create_post": ("same", None),
        "test_blog.py::test_search_ignores_case": ("diverged", "collation"),
    },
    "redirect_async": {
        "test_notes.py::test_add_notes": ("same", None),
        "test_notes.py::test_search_ignores_case": ("diverged", "collation"),
    },
    "redirect_pragma": {
        "test_orders.py::test_order_needs_a_customer": ("same", None),
        "test_orders.py::test_customer_search_ignores_case": ("diverged", "collation"),
        "test_orders.py::test_first_customer_gets_id_1": ("diverged", "sequences"),
    },
    "redirect_dotenv": {
        "test_tags.py::test_tags_sorted": ("same", None),
        "test_tags.py::test_tag_lookup_ignores_case": ("diverged", "collation"),
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("project", sorted(EXPECTED))
def test_pattern_project(inner, pg_admin, project: str) -> None:
    copy_project(inner, project)
    plain = plain_outcomes(inner)
    before = database_names(pg_admin)
    result, legs = redirect_run(inner)
    assert legs["sqlite"] == plain, result.stdout.str()  # the SQLite leg is the suite's own run
    assert set(legs["postgresql"]) == set(plain)
    report = inner.report()
    verdicts = {t["nodeid"]: (t["verdict"], t["category"]) for t in report["tests"]}
    assert verdicts == EXPECTED[project], result.stdout.str()
    for entry in report["tests"]:  # the report's SQLite legs are those outcomes too
        assert entry["legs"]["sqlite"]["outcome"].upper() == plain[entry["nodeid"]]
        if entry["verdict"] == "diverged":
            assert entry["explanation"], entry
    assert set(report["backends"]) == {"sqlite", "postgresql"}
    assert database_names(pg_admin) == before  # every dualdb_* database it created is gone


@pytest.mark.slow
def test_notes_name_each_liberty_once(inner) -> None:
    """Dropped SQLite-only arguments and skipped PRAGMAs: one note each, with where they came from."""
    copy_project(inner, "redirect_fixture_engine")
    redirect_run(inner)
    warnings = inner.report().get("warnings") or []
    check_same_thread = [w for w in warnings if "check_same_thread" in w]
    assert len(check_same_thread) == 1 and "conftest.py:" in check_same_thread[0]
    assert any("StaticPool" in w for w in warnings)
    copy_project(inner, "redirect_pragma")
    redirect_run(inner)
    assert [w for w in inner.report()["warnings"] if "PRAGMA" in w] == [
        "redirect: skipped 'PRAGMA foreign_keys=ON' on PostgreSQL (a SQLite PRAGMA the application runs; "
        "PostgreSQL has no PRAGMA: foreign keys are always enforced there)"
    ]


@pytest.mark.slow
def test_rollback_isolation_ids_are_explained_as_such(inner) -> None:
    copy_project(inner, "redirect_pragma")
    redirect_run(inner)
    entry = inner.entry("test_first_customer_gets_id_1")
    assert entry["explanation"]["title"].startswith("Ids differ because the suite rolls each test back")
    assert any(n.startswith("redirect: an earlier test inserted rows") for n in entry["harness_notes"])


def test_ini_key_turns_redirect_on(inner) -> None:
    copy_project(inner, "redirect_module_engine")
    (inner.pytester.path / "pytest.ini").write_text("[pytest]\npythonpath = .\ndualdb_redirect = true\n")
    result = inner.run("-v", subprocess=True)
    assert "2 workers [3 items]" in result.stdout.str()
    assert {t["nodeid"] for t in inner.report()["tests"]} == set(EXPECTED["redirect_module_engine"])


@pytest.mark.parametrize("args, given", [(("-n", "2"), "-n 2"), (("--dist", "loadfile"), "--dist loadfile")])
def test_own_distribution_is_refused_in_one_line(inner, args: tuple[str, ...], given: str) -> None:
    copy_project(inner, "redirect_module_engine")
    result = inner.run("--dualdb-redirect", *args, subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "pytest-dualdb" in line]
    assert len(errors) == 1 and f"remove {given}" in errors[0], result.stderr.str()


def test_without_xdist_says_what_to_install(inner) -> None:
    copy_project(inner, "redirect_module_engine")
    result = inner.run("--dualdb-redirect", "-p", "no:xdist", subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pip install pytest-xdist" in result.stderr.str()
