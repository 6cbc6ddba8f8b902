"""One frozen settings object, resolved once from the command line, ini and environment.

Everything downstream reads ``Settings`` instead of poking at pytest's config,
so the rules of precedence (CLI > environment > ini > default) live in one place.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dualdb.errors import ConfigError

BACKEND_NAMES = ("sqlite", "postgresql")
DEFAULT_PG_COLLATION = "auto"
DEFAULT_PG_TIMEZONE = "UTC"


@dataclass(frozen=True)
class Settings:
    """The plugin's whole configuration for one pytest run."""

    dual: bool = False
    pg_url: str | None = None
    report_dir: Path = Path("reports")
    strict: bool = False
    metadata_specs: tuple[str, ...] = ()
    default_backend: str = "sqlite"
    baseline: Path | None = None
    known_schema: tuple[str, ...] = ()  # dualdb_known_schema lines: revision ids and schema finding ids
    sqlite_pragmas: tuple[tuple[str, str], ...] = ()
    pg_collation: str = DEFAULT_PG_COLLATION
    pg_timezone: str = DEFAULT_PG_TIMEZONE
    pg_binaries: str | None = None
    alembic_config: str | None = None
    alembic_revision: str = "head"
    max_statements: int = 200
    max_rows: int = 50
    max_cells: int = 2000
    lock_timeout_ms: int = 10000
    reruns: int = 1  # times a diverged test is run again on both engines (0: never)
    shared_server: bool = False  # an xdist worker using the controller's local server
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))  # names the run's template database
    shared_template: bool = False  # an xdist worker: the controller drops the run's template
    rebuild: bool = False  # --dualdb-rebuild: build the schema even when a kept one matches
    redirect: bool = False  # --dualdb-redirect: the suite's own engines, once per engine (implies dual)
    redirect_leg: str | None = None  # in a redirect run's worker: the engine this process runs on
    extra: dict[str, Any] = field(default_factory=dict)

    def backends_for_run(self) -> tuple[str, ...]:
        """The backends a database test runs on: both with --dual-db, else the default."""
        return BACKEND_NAMES if self.dual else (self.default_backend,)


def parse_pragmas(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``name=value`` lines (one PRAGMA each) from ``dualdb_sqlite_pragmas``."""
    pragmas = []
    for raw in lines:
        for item in raw.replace(",", "\n").splitlines():
            item = item.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name.replace("_", "").isalnum() or not value:
                raise ConfigError(
                    f"dualdb_sqlite_pragmas: {item!r} is not `name=value` "
                    "(e.g. `foreign_keys=ON`)"
                )
            if not all(c.isalnum() or c in "_-'\"." for c in value):
                raise ConfigError(f"dualdb_sqlite_pragmas: unsafe value in {item!r}")
            pragmas.append((name, value))
    return tuple(pragmas)


def _split_lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.splitlines()
    out = []
    for line in value:
        out.extend(part for part in str(line).split() if part)
    return out


def _int_setting(name: str, value: Any, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative, got {number}")
    return number


def resolve(option: Callable[[str], Any], ini: Callable[[str], Any], env: dict[str, str] | None = None) -> Settings:
    """Build ``Settings`` from getters for CLI options and ini values.

    ``option(name)`` and ``ini(name)`` are pytest's ``config.getoption`` and
    ``config.getini``; keeping them as plain callables makes this testable without pytest.
    """
    env = os.environ if env is None else env
    default_backend = (ini("dualdb_backend") or "sqlite").strip().lower()
    aliases = {"postgres": "postgresql", "pg": "postgresql", "sqlite3": "sqlite"}
    default_backend = aliases.get(default_backend, default_backend)
    if default_backend not in BACKEND_NAMES:
        raise ConfigError(
            f"dualdb_backend = {default_backend!r} is not a backend; use one of: {', '.join(BACKEND_NAMES)}"
        )
    pg_url = option("dualdb_pg_url") or env.get("DUALDB_PG_URL") or None
    baseline = option("dualdb_baseline")
    redirect = bool(option("dualdb_redirect")) or _bool_setting(ini("dualdb_redirect"))
    dual, strict = bool(option("dual_db")) or redirect, bool(option("dualdb_strict"))
    if strict and not dual:
        # without the two legs there is nothing to compare: a strict gate that can't fail is a trap
        raise ConfigError(
            "--dualdb-strict gates on the differences between SQLite and PostgreSQL, "
            "which only a dual run finds: add --dual-db"
        )
    return Settings(
        dual=dual,
        pg_url=pg_url.strip() if pg_url else None,
        report_dir=Path(option("dualdb_report_dir") or "reports"),
        strict=strict,
        metadata_specs=tuple(_split_lines(ini("dualdb_metadata"))),
        default_backend=default_backend,
        baseline=Path(baseline) if baseline else None,
        known_schema=tuple(str(line).strip() for line in ini("dualdb_known_schema") or [] if str(line).strip()),
        sqlite_pragmas=parse_pragmas(ini("dualdb_sqlite_pragmas") or []),
        pg_collation=(ini("dualdb_pg_collation") or DEFAULT_PG_COLLATION).strip(),
        pg_timezone=(ini("dualdb_pg_timezone") or DEFAULT_PG_TIMEZONE).strip(),
        pg_binaries=env.get("DUALDB_PG_BINARIES") or (ini("dualdb_pg_binaries") or "").strip() or None,
        alembic_config=(ini("dualdb_alembic_config") or "").strip() or None,
        alembic_revision=(ini("dualdb_alembic_revision") or "head").strip(),
        max_statements=_int_setting("dualdb_max_statements", ini("dualdb_max_statements"), 200),
        max_rows=_int_setting("dualdb_max_rows", ini("dualdb_max_rows"), 50),
        max_cells=_int_setting("dualdb_max_cells", ini("dualdb_max_cells"), 2000),
        lock_timeout_ms=_int_setting("dualdb_lock_timeout_ms", ini("dualdb_lock_timeout_ms"), 10000),
        reruns=_int_setting("dualdb_reruns", ini("dualdb_reruns"), 1),
        redirect=redirect,
        rebuild=bool(option("dualdb_rebuild")),
    )


def _bool_setting(value: Any) -> bool:
    """An ini boolean (``dualdb_redirect = true``): pytest hands it over parsed, or as text."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
