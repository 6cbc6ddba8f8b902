"""The plugin's settings: every option and ini key declared once, resolved into one frozen object.

``OPTIONS`` is the one option table, as in SQLAlchemy's testing plugin (``setup_options``):
``plugin.pytest_addoption`` declares each entry to pytest, and ``resolve`` reads each entry
into the ``Settings`` field it names, with its default and its check. Adding an option is
one entry here and one field of ``Settings``. Everything downstream reads ``Settings``
instead of pytest's config, so the precedence (command line > environment > ini > default)
lives in one place. A leaf module: it imports nothing of the package but ``errors``, and not
pytest.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from dualdb.errors import ConfigError, DualdbError

BACKEND_NAMES = ("sqlite", "postgresql")
_BACKEND_ALIASES = {"postgres": "postgresql", "pg": "postgresql", "sqlite3": "sqlite"}


@dataclass(frozen=True)
class Settings:
    """The plugin's whole configuration for one pytest run (defaults: ``OPTIONS``)."""

    dual: bool = False
    pg_url: str | None = None
    report_dir: Path = Path("reports")
    strict: bool = False
    metadata_specs: tuple[str, ...] = ()
    default_backend: str = "sqlite"
    baseline: Path | None = None
    known_schema: tuple[str, ...] = ()  # dualdb_known_schema lines: revision ids and schema finding ids
    sqlite_pragmas: tuple[tuple[str, str], ...] = ()
    pg_collation: str = "auto"
    pg_timezone: str = "UTC"
    pg_binaries: str | None = None
    alembic_config: str | None = None
    alembic_revision: str = "head"
    max_statements: int = 200
    max_rows: int = 50
    max_cells: int = 2000
    lock_timeout_ms: int = 10000
    reruns: int = 1  # times a diverged test is run again on both engines (0: never)
    fastapi_app: str | None = None  # module:attribute of the app the `client` fixture drives
    fastapi_get_db: str | None = None  # ... and of its session dependency
    rebuild: bool = False  # --dualdb-rebuild: build the schema even when a kept one matches
    redirect: bool = False  # --dualdb-redirect: the suite's own engines, once per engine (implies dual)
    # set by the run, not by the user:
    shared_server: bool = False  # an xdist worker using the controller's local server
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))  # names the run's template database
    shared_template: bool = False  # an xdist worker: the controller drops the run's template
    redirect_leg: str | None = None  # in a redirect run's worker: the engine this process runs on
    extra: dict[str, Any] = field(default_factory=dict)

    def backends_for_run(self) -> tuple[str, ...]:
        """The backends a database test runs on: both with --dual-db, else the default."""
        return BACKEND_NAMES if self.dual else (self.default_backend,)


# -- how a raw value becomes a setting ------------------------------------------------------------


def _text(value: Any, name: str) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _flag(value: Any, name: str) -> bool:
    """A flag, or an ini boolean (pytest hands ``type="bool"`` values over parsed, or as text)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _path(value: Any, name: str) -> Path | None:
    text = _text(os.fspath(value) if isinstance(value, os.PathLike) else value, name)
    return Path(text) if text else None


def _words(value: Any, name: str) -> tuple[str, ...]:
    """``module:attribute`` lines (one or several per line, as pytest's linelist gives them)."""
    lines = value.splitlines() if isinstance(value, str) else (value or [])
    return tuple(part for line in lines for part in str(line).split() if part)


def _lines(value: Any, name: str) -> tuple[str, ...]:
    lines = value.splitlines() if isinstance(value, str) else (value or [])
    return tuple(str(line).strip() for line in lines if str(line).strip())


def _whole_number(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative, got {number}")
    return number


def _backend(value: Any, name: str) -> str:
    backend = str(value).strip().lower()
    backend = _BACKEND_ALIASES.get(backend, backend)
    if backend not in BACKEND_NAMES:
        raise ConfigError(f"{name} = {backend!r} is not a backend; use one of: {', '.join(BACKEND_NAMES)}")
    return backend


def parse_pragmas(value: Any, name: str = "dualdb_sqlite_pragmas") -> tuple[tuple[str, str], ...]:
    """Parse ``name=value`` lines (one PRAGMA each, or comma-separated) from ``dualdb_sqlite_pragmas``."""
    pragmas = []
    for raw in _lines(value, name):
        for item in raw.replace(",", "\n").splitlines():
            item = item.strip()
            if not item:
                continue
            pragma, sep, setting = item.partition("=")
            pragma, setting = pragma.strip(), setting.strip()
            if not sep or not pragma.replace("_", "").isalnum() or not setting:
                raise ConfigError(f"{name}: {item!r} is not `name=value` (e.g. `foreign_keys=ON`)")
            if not all(c.isalnum() or c in "_-'\"." for c in setting):
                raise ConfigError(f"{name}: unsafe value in {item!r}")
            pragmas.append((pragma, setting))
    return tuple(pragmas)


# -- the option table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One command-line option or ini key (or both), and the ``Settings`` field it fills."""

    setting: str
    help: str
    flag: str | None = None  # "--dual-db"; a flag without metavar is a store_true switch
    ini: str | None = None  # "dualdb_metadata"
    env: str | None = None  # an environment variable that beats the ini value
    metavar: str | None = None  # the flag takes a value
    ini_type: str | None = None  # pytest's addini type ("linelist", "bool"); None: a string
    parse: Callable[[Any, str], Any] = _text
    ini_help: str | None = None  # the ini key's help, when the flag's does not fit it

    @property
    def dest(self) -> str:
        """The attribute of pytest's option namespace (``--dualdb-pg-url`` -> ``dualdb_pg_url``)."""
        if not self.flag:
            raise ValueError(f"{self.setting} is an ini key only")
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def default(self) -> Any:
        return _SETTING_DEFAULTS[self.setting]

    @property
    def name(self) -> str:
        """How messages name it: the flag, else the ini key."""
        return self.flag or self.ini or self.setting


OPTIONS: tuple[Option, ...] = (
    Option("dual", flag="--dual-db", parse=_flag,
           help="run every database test once per backend (test_x[sqlite], test_x[postgresql]) "
           "and write a divergence report"),
    Option("pg_url", flag="--dualdb-pg-url", metavar="URL", env="DUALDB_PG_URL",
           help="use this PostgreSQL server (env DUALDB_PG_URL); the plugin creates and drops a "
           "dualdb_<random> database on it. Default: start a private local server"),
    Option("report_dir", flag="--dualdb-report-dir", metavar="DIR", parse=_path,
           help="where dualdb.json, dualdb.md and dualdb.html are written (default: reports)"),
    Option("strict", flag="--dualdb-strict", parse=_flag,
           help="exit non-zero when a test diverged and is not marked dualdb_known, or a schema finding "
           "(an Alembic revision failing on one engine, one-engine drift) is not acknowledged by "
           "dualdb_known_schema or --dualdb-baseline; needs --dual-db"),
    Option("baseline", flag="--dualdb-baseline", metavar="FILE", parse=_path,
           help="accept the divergences and schema findings named in FILE: a previous dualdb.json, or "
           "lines of node ids (as pytest prints them) and Alembic revision or schema finding ids"),
    Option("rebuild", flag="--dualdb-rebuild", parse=_flag,
           help="build the schema (tables or Alembic migrations) again instead of reusing the one kept from "
           "an earlier run; a change to the models, the migrations or the settings is picked up without it"),
    Option("redirect", flag="--dualdb-redirect", ini="dualdb_redirect", ini_type="bool", parse=_flag,
           help="implies --dual-db: run the suite as it is (its own fixtures and isolation) once per engine, "
           "in two xdist workers side by side; in the PostgreSQL one every SQLite engine the code creates "
           "points at a throwaway PostgreSQL database",
           ini_help="true: every run is a --dualdb-redirect run"),
    Option("metadata_specs", ini="dualdb_metadata", ini_type="linelist", parse=_words,
           help="module:attribute lines naming a MetaData or declarative base to create on each backend"),
    Option("known_schema", ini="dualdb_known_schema", ini_type="linelist", parse=_lines,
           help="schema findings --dualdb-strict accepts, one per line: an Alembic revision id (all its "
           "findings) or a finding id as the report prints it, e.g. migration:sqlite:c3 or "
           "drift:sqlite:foreign key posts(author_id) -> users(id)"),
    Option("default_backend", ini="dualdb_backend", parse=_backend,
           help="backend used without --dual-db: sqlite (default) or postgresql"),
    Option("sqlite_pragmas", ini="dualdb_sqlite_pragmas", ini_type="linelist", parse=parse_pragmas,
           help="name=value PRAGMAs set on every SQLite connection, to mirror production "
           "(e.g. foreign_keys=ON); none by default"),
    Option("pg_collation", ini="dualdb_pg_collation",
           help="collation of the throwaway PostgreSQL database: auto (ICU en-US, else en_US.UTF-8, "
           "else C), or a name such as C or en-US-x-icu"),
    Option("pg_timezone", ini="dualdb_pg_timezone", help="TimeZone of the PostgreSQL sessions (default UTC)"),
    Option("pg_binaries", ini="dualdb_pg_binaries", env="DUALDB_PG_BINARIES",
           help="folder with PostgreSQL server binaries (initdb, postgres) to use for the local server "
           "(env DUALDB_PG_BINARIES)"),
    Option("alembic_config", ini="dualdb_alembic_config", help="path to alembic.ini: build each schema from migrations"),
    Option("alembic_revision", ini="dualdb_alembic_revision", help="revision to upgrade to (default head)"),
    Option("max_statements", ini="dualdb_max_statements", parse=_whole_number,
           help="statements captured per test and leg (default 200)"),
    Option("max_rows", ini="dualdb_max_rows", parse=_whole_number,
           help="rows kept per captured statement, the rest hashed (default 50)"),
    Option("max_cells", ini="dualdb_max_cells", parse=_whole_number,
           help="values kept per test and leg across all statements, the rest hashed (default 2000)"),
    Option("lock_timeout_ms", ini="dualdb_lock_timeout_ms", parse=_whole_number,
           help="how long a statement of a rolled-back test may wait for a lock before it fails with a "
           "hint instead of hanging (default 10000)"),
    Option("reruns", ini="dualdb_reruns", parse=_whole_number,
           help="times a diverged test is run again on both engines, to tell a divergence from a result "
           "that changes between runs (default 1; 0: never). A divergence that does not reproduce is "
           "reported as such and does not fail --dualdb-strict"),
    Option("fastapi_app", ini="dualdb_fastapi_app",
           help="module:attribute of the FastAPI app used by the `client` fixture"),
    Option("fastapi_get_db", ini="dualdb_fastapi_get_db",
           help="module:attribute of the app's session dependency that the `client` fixture overrides"),
)

_SETTING_DEFAULTS = {f.name: f.default for f in fields(Settings)}


def load_object(spec: str, key: str, error: type[DualdbError] = ConfigError) -> Any:
    """The object a ``module:attribute`` line of ini ``key`` names (``myapp.models:Base``),
    or ``error`` with one line saying what is wrong with the line."""
    import importlib

    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise error(f"{key}: {spec!r} is not `module:attribute` (e.g. `myapp.models:Base`)")
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may raise anything while importing
        raise error(
            f"{key}: cannot import module {module_name!r} for {spec!r}: "
            f"{type(exc).__name__}: {exc} (check the spelling and pytest's `pythonpath` ini)"
        ) from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise error(f"{key}: module {module_name!r} has no attribute {attr_path!r} (from {spec!r})") from None
    return obj


def _given(value: Any) -> bool:
    """A value the user set: pytest gives ``None``/``False`` for an absent option, ``""``/``[]`` for an absent ini key."""
    return value not in (None, False, "", [], ())


def resolve(option: Callable[[str], Any], ini: Callable[[str], Any], env: dict[str, str] | None = None) -> Settings:
    """Build ``Settings`` from getters for CLI options and ini values.

    ``option(name)`` and ``ini(name)`` are pytest's ``config.getoption`` and ``config.getini``;
    keeping them as plain callables makes this testable without pytest.
    """
    env = os.environ if env is None else env
    values = {}
    for opt in OPTIONS:
        value = _raw_value(opt, option, ini, env)
        if _given(value):
            values[opt.setting] = opt.parse(value, opt.name)
    settings = Settings(**values)
    if settings.redirect:
        settings = replace(settings, dual=True)
    if settings.strict and not settings.dual:
        # without the two legs there is nothing to compare: a strict gate that can't fail is a trap
        raise ConfigError(
            "--dualdb-strict gates on the differences between SQLite and PostgreSQL, "
            "which only a dual run finds: add --dual-db"
        )
    return settings


def setting(name: str, option: Callable[[str], Any], ini: Callable[[str], Any],
            env: dict[str, str] | None = None) -> Any:
    """One setting, resolved as ``resolve`` would, for code that runs before the settings exist
    (redirect mode's hooks at ``pytest_load_initial_conftests``)."""
    opt = next(opt for opt in OPTIONS if opt.setting == name)
    value = _raw_value(opt, option, ini, os.environ if env is None else env)
    return opt.parse(value, opt.name) if _given(value) else opt.default


def _raw_value(opt: Option, option: Callable[[str], Any], ini: Callable[[str], Any], env: dict[str, str]) -> Any:
    """The option's value by precedence: command line, then environment, then ini."""
    if opt.flag:
        value = option(opt.dest)
        if _given(value):
            return value
    if opt.env and env.get(opt.env):
        return env[opt.env]
    if opt.ini:
        return ini(opt.ini)
    return None

