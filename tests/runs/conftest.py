"""Fixtures for the tests that run pytest: ``inner`` writes a tiny user project into pytester's
folder and runs pytest on it, pointed at the session's PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.models import MODELS


@pytest.fixture
def inner(pytester: pytest.Pytester, pg_url: str, monkeypatch: pytest.MonkeyPatch):
    """Run an inner pytest with ``--dual-db`` against the session server; returns a helper."""
    monkeypatch.setenv("DUALDB_PG_URL", pg_url)
    return InnerRun(pytester)


class InnerRun:
    """Write a tiny user project into pytester's folder and run pytest on it."""

    def __init__(self, pytester: pytest.Pytester):
        self.pytester = pytester

    def project(self, models: str | None = None, ini: str = "", **files: str) -> None:
        lines = ["[pytest]", "pythonpath = ."]
        if "asyncio_default_fixture_loop_scope" not in ini:
            lines.append("asyncio_default_fixture_loop_scope = function")  # quiets pytest-asyncio
        if models is not None:
            self.pytester.makepyfile(models=models)
            lines.append("dualdb_metadata = models:Base")
        if ini:
            lines.append(ini)
        self.pytester.makefile(".ini", pytest="\n".join(lines) + "\n")
        if files:
            self.pytester.makepyfile(**files)

    def run(self, *args: str, subprocess: bool = False) -> pytest.RunResult:
        argv = ["-p", "no:cacheprovider", "-p", "no:randomly", *args]
        if subprocess:
            return self.pytester.runpytest_subprocess(*argv, timeout=120)
        return self.pytester.runpytest(*argv)

    def report(self) -> dict:
        return json.loads(Path(self.pytester.path, "reports", "dualdb.json").read_text())

    def verdicts(self) -> dict[str, tuple[str, str | None]]:
        return {t["nodeid"].split("::")[-1]: (t["verdict"], t["kind"]) for t in self.report()["tests"]}

    def entry(self, name: str) -> dict:
        for test in self.report()["tests"]:
            if test["nodeid"].split("::")[-1] == name:
                return test
        raise KeyError(name)


@pytest.fixture
def models_source() -> str:
    """The shared models' source text (support.models.MODELS), for a test that takes it as a fixture."""
    return MODELS
