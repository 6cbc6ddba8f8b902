"""Whole-run features: baseline, xdist merge, report files."""

from __future__ import annotations

import json

import pytest
from support.databases import database_names
from support.models import MODELS

DIVERGING = """
import pytest
from sqlalchemy import select
from models import User


@pytest.mark.parametrize("n", range(3))
def test_order(db_session, observe, n):
    db_session.add_all([User(name="b"), User(name="B"), User(name="a")])
    db_session.commit()
    observe("names", db_session.scalars(select(User.name).where(User.name.like("b%")).order_by(User.name)).all())


def test_like(db_session):
    db_session.add(User(name="Alice"))
    db_session.commit()
    assert db_session.scalars(select(User).where(User.name.like("alice"))).all()


def test_same(db_session):
    db_session.add(User(name="x"))
    db_session.commit()
"""


def test_baseline_accepts_known_divergences_and_reports_new_and_gone(inner):
    inner.project(MODELS, test_d=DIVERGING)
    inner.run("--dual-db")
    baseline = inner.pytester.path / "baseline.json"
    baseline.write_text((inner.pytester.path / "reports" / "dualdb.json").read_text())
    assert inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(baseline)).ret == 1  # test_like fails
    ids = inner.pytester.path / "accepted.txt"
    ids.write_text("# accepted for now\ntest_d.py::test_order[0]\ntest_d.py::test_order[1]\ntest_d.py::test_gone\n")
    result = inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(ids), "-k", "test_order")
    assert result.ret == 1  # test_order[2] is new
    report = inner.report()
    assert report["baseline"]["new"] == ["test_d.py::test_order[2]"]
    assert report["baseline"]["accepted"] == ["test_d.py::test_order[0]", "test_d.py::test_order[1]"]
    assert report["baseline"]["disappeared"] == ["test_d.py::test_gone"]
    result.stdout.fnmatch_lines(["*1 new, 2 accepted, 1 no longer diverge*"])
    ok = inner.run("--dual-db", "--dualdb-strict", "--dualdb-baseline", str(ids), "-k", "test_order and not 2")
    assert ok.ret == 0


def test_bad_baseline_file_is_a_usage_error(inner, tmp_path):
    inner.project(MODELS, test_d=DIVERGING)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = inner.run("--dual-db", f"--dualdb-baseline={bad}")  # outside the project: the = form
    assert result.ret == 4
    assert "not valid JSON" in result.stderr.str()


def essence(report: dict) -> dict:
    return {
        t["nodeid"]: (t["verdict"], t["kind"], t["category"], json.dumps(t["first_difference"], sort_keys=True))
        for t in report["tests"]
    }


def test_xdist_report_is_the_same_as_serial(inner, pg_admin):
    before = database_names(pg_admin)
    inner.project(MODELS, test_d=DIVERGING)
    inner.run("--dual-db", subprocess=True)
    serial = inner.report()
    result = inner.run("--dual-db", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=9, failed=1)
    parallel = inner.report()
    assert essence(parallel) == essence(serial)
    assert parallel["summary"] == serial["summary"]
    # each worker cloned the run's template database; all of them are gone again
    assert database_names(pg_admin) == before
    assert set(parallel["backends"]) == {"sqlite", "postgresql"}


def test_report_files_written(inner):
    inner.project(MODELS, test_d=DIVERGING)
    inner.run("--dual-db", "--dualdb-report-dir", "out/dual")
    folder = inner.pytester.path / "out" / "dual"
    assert {p.name for p in folder.iterdir()} >= {"dualdb.json", "dualdb.md", "dualdb.html"}
    markdown = (folder / "dualdb.md").read_text()
    assert "test_d.py::test_like" in markdown


@pytest.mark.slow
def test_xdist_legs_split_across_workers_still_pair(inner):
    """``--dist worksteal`` hands the SQLite legs to one worker and the PostgreSQL legs to the
    other: each worker sends its unpaired legs at its end and the controller pairs them."""
    inner.project(MODELS, test_d=DIVERGING)
    inner.run("--dual-db", subprocess=True)
    serial = inner.report()
    result = inner.run("--dual-db", "-n", "2", "--dist", "worksteal", subprocess=True)
    result.assert_outcomes(passed=9, failed=1)
    assert essence(inner.report()) == essence(serial)
