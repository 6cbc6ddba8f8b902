"""The HTML report of a real run, opened in headless Chromium (Debian's ``chromium``).

CI installs Chromium (``.ci/run``); on a machine without it this test is
skipped with the reason, it never passes without a browser.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.models import MODELS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPO_REPORTS = Path(__file__).resolve().parents[2] / "reports"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium(args: list[str], profile: Path) -> str:
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (installed by .ci/run)")
def test_html_report_renders_filters_and_escapes_in_chromium(inner, tmp_path):
    inner.project(
        MODELS,
        test_page="""
        from sqlalchemy import select
        from models import User

        def test_script_value(db_session, observe):
            db_session.add_all([User(name="<script>alert(1)</script>"), User(name="B"), User(name="a")])
            db_session.commit()
            observe("names", db_session.scalars(select(User.name).where(User.name.like("b%")).order_by(User.name)).all())

        def test_case_search(db_session):
            db_session.add(User(name="Alice"))
            db_session.commit()
            assert db_session.scalars(select(User).where(User.name.like("alice"))).all()

        def test_agrees(db_session):
            db_session.add(User(name="x"))
            db_session.commit()
        """,
    )
    inner.run("--dual-db")
    page = inner.pytester.path / "reports" / "dualdb.html"
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path / "p1")
    assert 'class="chart"' in dom and 'class="bar"' in dom
    assert dom.count('class="test-row') == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script>alert(1)</script>" not in dom

    filtered = _chromium(["--dump-dom", page.as_uri() + "#filter=case_search"], tmp_path / "p2")
    rows = [line for line in filtered.split("<tr") if 'class="test-row' in line.split(">", 1)[0]]
    visible = [r for r in rows if " hidden" not in r.split(">", 1)[0]]
    assert len(rows) == 3 and len(visible) == 1 and "test_case_search" in visible[0]

    REPO_REPORTS.mkdir(exist_ok=True)
    shot = REPO_REPORTS / "test-run-report.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,1400", "--hide-scrollbars", page.as_uri()], tmp_path / "p3")
    assert shot.stat().st_size > 10_000
