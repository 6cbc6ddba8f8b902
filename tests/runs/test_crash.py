"""A run killed with ``kill -9`` leaves nothing behind once the next run has started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.databases import database_names
from support.models import MODELS

SLEEPING_TEST = """
import pathlib, time

def test_hangs(db_session, dualdb_backend):
    if dualdb_backend.name == "postgresql":
        pathlib.Path("running.txt").write_text(str(dualdb_backend.url))
        time.sleep(60)
"""


def _start_and_kill(folder: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--dual-db", "-p", "no:cacheprovider", "-q"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (folder / "running.txt").exists():
        assert proc.poll() is None, "the run ended before its test started"
        assert time.monotonic() < deadline, "the test never started"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _postgres_processes_for(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "postgres" in cmdline and marker in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_killed_run_with_local_server_is_reaped(pytester, tmp_path):
    pytester.makepyfile(models=MODELS, test_hang=SLEEPING_TEST)
    pytester.makefile(".ini", pytest="[pytest]\npythonpath = .\ndualdb_metadata = models:Base\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALDB_", "PYTEST_"))}
    env["DUALDB_CACHE_DIR"] = str(tmp_path / "cache")
    _start_and_kill(pytester.path, env)
    records = list((tmp_path / "cache" / "runs").glob("*.json"))
    assert len(records) == 1  # the killed run's server record is still there
    run_dir = __import__("json").loads(records[0].read_text())["run_dir"]

    pytester.makepyfile(test_hang="def test_quick(db_session):\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--dual-db", "-p", "no:cacheprovider", "-q"],
        cwd=pytester.path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not _postgres_processes_for(run_dir)
    assert not Path(run_dir).exists()
    assert list((tmp_path / "cache" / "runs").glob("*")) == []


@pytest.mark.slow
def test_killed_run_on_users_server_has_its_database_dropped_next_time(pytester, pg_url, pg_admin, tmp_path):
    pytester.makepyfile(models=MODELS, test_hang=SLEEPING_TEST)
    pytester.makefile(".ini", pytest="[pytest]\npythonpath = .\ndualdb_metadata = models:Base\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALDB_", "PYTEST_"))}
    env.update(DUALDB_CACHE_DIR=str(tmp_path / "cache"), DUALDB_PG_URL=pg_url)
    before = database_names(pg_admin)
    _start_and_kill(pytester.path, env)
    left = {n for n in database_names(pg_admin) - before if n.startswith("dualdb_")}
    assert left, "the killed run should have left its database"

    pytester.makepyfile(test_hang="def test_quick(db_session):\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--dual-db", "-p", "no:cacheprovider", "-q"],
        cwd=pytester.path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reaped leftover from a killed run" in done.stdout
    assert database_names(pg_admin) == before
