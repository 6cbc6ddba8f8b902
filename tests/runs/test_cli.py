"""The ``dualdb`` command: the probe catalog and re-rendering a saved report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.models import MODELS

from dualdb.cli import probe_table
from dualdb.report.model import Report
from dualdb.report.model import TestEntry as Entry  # not "Test*": pytest would try to collect it


def dualdb(*args: str, cwd, env_extra: dict | None = None) -> subprocess.CompletedProcess:  # noqa: ANN001
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALDB_PG_URL", "PYTEST_"))}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "dualdb.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_probes_subset_behaves_as_documented(tmp_path, pg_url):
    done = dualdb(
        "probes", "-k", "seeding_explicit_ids or first_ids_start_at_one or search_is_case_insensitive_with_like",
        "--pg-url", pg_url, "--report-dir", str(tmp_path / "out"), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "behaved as documented, 0 did not" in done.stdout
    assert "test_new_tag_after_seeding_explicit_ids_fixed" in done.stdout
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"dualdb.json", "dualdb.md", "dualdb.html"}


def test_probes_category_filter(tmp_path, pg_url):
    done = dualdb("probes", "--category", "sequences", "--pg-url", pg_url, "--report-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "dualdb.json").read_text())
    files = {t["nodeid"].split("::")[0] for t in report["tests"]}
    assert "test_sequences.py" in files  # (an API probe about ids is in the category too)
    assert not files & {"test_collation.py", "test_json.py", "test_strings.py"}


def test_probe_table_flags_surprises_and_skips_collation_probes_on_a_c_server():
    report = Report(tests=[
        Entry(nodeid="a.py::test_sorted", verdict="same"),
        Entry(nodeid="a.py::test_like", verdict="same"),
        Entry(nodeid="a.py::test_control", verdict="diverged", kind="value"),
    ])
    expected = {
        "a.py::test_sorted": {"category": "collation", "expect": "diverged", "needs": "linguistic"},
        "a.py::test_like": {"category": "collation", "expect": "diverged"},
        "a.py::test_control": {"category": "json", "expect": "same"},
    }
    rows, surprises, skipped = probe_table(report, expected, linguistic=False)
    assert skipped == ["a.py::test_sorted"]
    assert surprises == ["a.py::test_like: expected diverged, got same", "a.py::test_control: expected same, got diverged"]
    _, surprises, skipped = probe_table(report, expected, linguistic=True)
    assert skipped == [] and len(surprises) == 3


def test_probe_table_checks_icu_only_probes_only_on_icu():
    """A libc en_US.UTF-8 sorts linguistically but maps case per character: ``upper('ß')`` needs ICU."""
    report = Report(tests=[Entry(nodeid="a.py::test_upper_sharp_s", verdict="same")])
    expected = {"a.py::test_upper_sharp_s": {"category": "strings", "expect": "diverged", "needs": "icu"}}
    for linguistic, icu in ((False, False), (True, False)):
        _, surprises, skipped = probe_table(report, expected, linguistic, icu)
        assert (surprises, skipped) == ([], ["a.py::test_upper_sharp_s"])
    _, surprises, skipped = probe_table(report, expected, linguistic=True, icu=True)
    assert skipped == [] and surprises == ["a.py::test_upper_sharp_s: expected diverged, got same"]


def test_report_rerenders_saved_json(inner):
    inner.project(MODELS, test_a="def test_a(dualdb_backend, observe):\n    observe('x', dualdb_backend.name)\n")
    inner.run("--dual-db")
    saved = inner.pytester.path / "reports" / "dualdb.json"
    out = inner.pytester.path / "again"
    done = dualdb("report", str(saved), "--out", str(out), cwd=inner.pytester.path)
    assert done.returncode == 0, done.stderr
    assert (out / "dualdb.md").read_text().count("test_a.py::test_a") >= 1
    assert (out / "dualdb.html").exists()


@pytest.mark.parametrize(("content", "fragment"), [(None, "no such file"), ("{oops", "not valid JSON"), ('{"schema": "x"}', "")])
def test_report_bad_input_is_one_clear_line(tmp_path, content, fragment):
    path = tmp_path / "dualdb.json"
    if content is not None:
        path.write_text(content)
    done = dualdb("report", str(path), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dualdb report:") and fragment.lower() in lines[0].lower()
    assert "Traceback" not in done.stderr


def test_probes_lead_with_the_verdict_table_and_summarise_expected_failures(tmp_path, pg_url):
    done = dualdb(
        "probes", "-k", "seeding_explicit_ids or search_is_case_insensitive_with_like",
        "--pg-url", pg_url, "--report-dir", str(tmp_path), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines[0].split()[:2] == ["probe", "category"], done.stdout  # the table comes first
    assert not [line for line in lines if line.startswith(("FAILED", "E ", "___"))], done.stdout
    assert "2 divergent probes failed as documented (2 on PostgreSQL, 0 on SQLite)" in done.stdout
    assert f"reports: {tmp_path / 'dualdb.json'}, {tmp_path / 'dualdb.md'}, {tmp_path / 'dualdb.html'}" in done.stdout
