"""The traps a new user falls into on a first ``--dual-db`` run, each said once, in one line.

* their own ``db_session`` / ``client`` / ... fixture shadows the plugin's, so
  every test runs once and nothing is compared (``shadowed_fixtures``);
* no schema configured (``dualdb_metadata``, ``dualdb_alembic_config``), so tests
  fail on both engines on missing tables (``NO_SCHEMA``, ``missing_table_line``);
* ``--dualdb-baseline FILE`` with a space: pytest picks the rootdir and ini file
  from the command line *before* any plugin's options are known, so an existing
  FILE is taken for a test path and the project's ``pytest.ini`` may be ignored
  (``value_option_mistake``). Nothing a plugin can hook runs that early, so the
  fix is the ``=`` form, and this says so.

Imported by the plugin's hooks only when a dual run needs it; no database code.
"""

from __future__ import annotations

import inspect
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The plugin's public fixtures: a user fixture of the same name wins inside its conftest's folder.
PLUGIN_FIXTURES = (
    "dualdb_backend", "db_engine", "db_connection", "db_session", "dualdb_sessionmaker", "db_fresh_engine",
    "observe", "client", "dual",
    "db_async_engine", "db_async_connection", "db_async_session", "dualdb_async_sessionmaker",
)
PLUGIN_MODULES = ("dualdb.plugin.fixtures", "dualdb.plugin.async_fixtures")

# Options that take a value. pytest picks the rootdir (and its ini) before plugins load, so in
# `--opt VALUE` an existing VALUE is taken for a test path by that search.
VALUE_OPTIONS = ("--dualdb-pg-url", "--dualdb-report-dir", "--dualdb-baseline")

SHADOWED = (
    "pytest-dualdb: {fixtures} shadow{s} the plugin's, so {tests} test(s) using {them} ran on one engine "
    "and were not compared. Either delete yours to use the plugin's (README: \"Bring your existing suite\"), "
    "or run your suite as it is on both engines with --dualdb-redirect"
)
NO_SCHEMA = (
    "pytest-dualdb: --dual-db without dualdb_metadata or dualdb_alembic_config: the plugin creates no tables, "
    "so tests fail on both engines unless your fixtures create them. Set dualdb_metadata = yourapp.models:Base "
    "(or dualdb_alembic_config = alembic.ini) in pytest.ini"
)
MISSING_TABLES = (
    "{count} test(s) failed on both engines because table {table} does not exist{others}: {fix}"
)
MISSING_TABLES_FIX = "set dualdb_metadata = yourapp.models:Base (or dualdb_alembic_config = alembic.ini) in pytest.ini"
MISSING_TABLES_FIX_CONFIGURED = (
    "the schema dualdb_metadata / dualdb_alembic_config builds lacks it (is its model imported by that module?)"
)
VALUE_OPTION = (
    "pytest-dualdb: write {option}={value}, not `{option} {value}`: pytest chooses the rootdir and ini file "
    "before plugins load and takes {value} for a test path, so your pytest.ini may be ignored"
)
MISSING_EXTRA_CLIENT = "the `client` fixture ({count} test(s))"


# -- shadowed fixtures -------------------------------------------------------------------


def shadowed_fixtures(items: Iterable[Any], rootpath: Path, backend_fixture: str) -> dict[str, int]:
    """``{"`db_session` (tests/conftest.py:12)": tests}`` for user fixtures that hide the plugin's.

    A test counts when a plugin fixture name it requests resolves to someone
    else's definition *and* the test never reaches ``dualdb_backend``: its own
    fixture neither wraps nor uses the plugin's, so it cannot run per engine.
    A user fixture that requests the plugin's (``def db_session(db_session)``)
    or builds on ``db_connection`` is composition, not a trap.
    """
    found: Counter[str] = Counter()
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or backend_fixture in getattr(item, "fixturenames", ()):
            continue
        for name in PLUGIN_FIXTURES:
            defs = info.name2fixturedefs.get(name)
            if defs and not _is_ours(defs[-1]):
                found[f"`{name}` ({_location(defs[-1], rootpath)})"] += 1
    return dict(found)


def shadowed_line(shadowed: dict[str, int]) -> str:
    names = sorted(shadowed)
    return SHADOWED.format(
        fixtures=", ".join(names),
        s="s" if len(names) == 1 else "",
        tests=max(shadowed.values()),
        them="it" if len(names) == 1 else "them",
    )


def _is_ours(fixturedef: Any) -> bool:
    return getattr(fixturedef.func, "__module__", "") in PLUGIN_MODULES


def _location(fixturedef: Any, rootpath: Path) -> str:
    func = inspect.unwrap(fixturedef.func)
    try:
        path = Path(inspect.getsourcefile(func) or "?")
        line = func.__code__.co_firstlineno
    except (TypeError, AttributeError):
        return "?"
    try:
        shown = path.resolve().relative_to(rootpath.resolve())
    except ValueError:
        shown = path
    return f"{shown.as_posix()}:{line}"


def uses_plugin_fixture(item: Any, name: str) -> bool:
    """Whether ``item`` gets fixture ``name`` from the plugin (not from a conftest of its own)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get(name) if info is not None else None
    return bool(defs) and _is_ours(defs[-1])


# -- missing tables ----------------------------------------------------------------------

_MISSING_TABLE = (
    re.compile(r"no such table: (?P<table>[\w.\"]+)"),  # SQLite
    re.compile(r"relation \"(?P<table>[^\"]+)\" does not exist"),  # PostgreSQL
)


def missing_table(message: str | None) -> str | None:
    """The table an engine's error says does not exist, or None."""
    for pattern in _MISSING_TABLE:
        found = pattern.search(message or "")
        if found:
            return found.group("table").strip('"').rsplit(".", 1)[-1]
    return None


def missing_table_line(tests: Iterable[Any], schema_configured: bool = False) -> str | None:
    """One line for the tests whose both legs failed on a missing table (the schema was never created).

    ``tests`` are report entries (``verdict``, ``legs[backend].error.message``).
    """
    tables: Counter[str] = Counter()
    for entry in tests:
        if getattr(entry, "verdict", None) != "failed_both":
            continue
        legs = [leg for leg in (entry.legs or {}).values() if leg is not None]
        names = {missing_table(leg.error.message if leg.error else None) for leg in legs}
        if len(legs) == 2 and None not in names:
            tables[sorted(names)[0]] += 1
    if not tables:
        return None
    (table, _), *rest = tables.most_common()
    others = f" (and {', '.join(name for name, _ in rest)})" if rest else ""
    fix = MISSING_TABLES_FIX_CONFIGURED if schema_configured else MISSING_TABLES_FIX
    return MISSING_TABLES.format(count=sum(tables.values()), table=table, others=others, fix=fix)


# -- `--opt VALUE` with an existing path -----------------------------------------------


def value_option_mistake(args: list[str], invocation_dir: Path) -> str | None:
    """The one-line message for ``--dualdb-x VALUE`` that misled pytest's rootdir and ini search, else None.

    pytest searches for the ini file upwards from the common folder of the
    paths on the command line; a VALUE that exists counts as one. Inside the
    folder pytest was started from it changes nothing (the search still
    reaches the project's ini), and with both ``--rootdir`` and ``-c`` given
    no search happens. Outside it, the search starts above the project.
    """
    if _explicit_setup(args):
        return None
    for option, value in zip(args, args[1:]):
        if option in VALUE_OPTIONS and not value.startswith("-"):
            path = Path(value) if os.path.isabs(value) else invocation_dir / value
            if path.exists() and not _inside(path, invocation_dir):
                return VALUE_OPTION.format(option=option, value=value)
    return None


def _explicit_setup(args: list[str]) -> bool:
    rootdir = any(arg == "--rootdir" or arg.startswith("--rootdir=") for arg in args)
    inifile = any(arg in ("-c", "--config-file", "--inifile") or arg.startswith(("--config-file=", "--inifile="))
                  for arg in args)
    return rootdir and inifile


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
