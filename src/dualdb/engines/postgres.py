"""The PostgreSQL leg: a throwaway ``dualdb_<random>`` database on a server.

The server is either the user's (``--dualdb-pg-url``) or a private local one.
The plugin creates its database with a linguistic collation (production
servers sort ``a A b B``, not bytewise) and drops only the databases it created;
``engines/sequences.py`` puts its sequences back between tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from dualdb.errors import BackendError
from dualdb.capture.process_state import system_token_hex
from dualdb.engines.server.locales import COLLATION_NOTE_SETTING, HOW_TO_GET_ONE

DB_PREFIX = "dualdb_"
CONNECT_TIMEOUT_S = 3

# A libc en_US.UTF-8: one the server imported from the system at initdb (pg_collation), else the
# cluster's own default locale (the plugin's server initialised with a locale it built, which
# ``locale -a`` and so pg_collation never list).
_LIBC_LINGUISTIC_SQL = (
    "SELECT collcollate FROM pg_collation WHERE collprovider = 'c' "
    "AND lower(replace(collcollate, '-', '')) IN ('en_us.utf8', 'c.utf8_en_us') "
    "UNION ALL SELECT datcollate FROM pg_database WHERE datname = 'template0' "
    "AND lower(replace(datcollate, '-', '')) = 'en_us.utf8' LIMIT 1"
)


def parse_url(raw: str) -> URL:
    """Parse a user-given URL and force the psycopg 3 driver."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise BackendError(
            f"--dualdb-pg-url {mask(raw)!r} is not a database URL; expected "
            "postgresql://user:password@host:5432/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend not in ("postgresql", "postgres"):
        raise BackendError(
            f"--dualdb-pg-url names a {backend!r} database; it must be a PostgreSQL URL "
            "(postgresql://user:password@host:5432/dbname)"
        )
    return url.set(drivername="postgresql+psycopg")


def mask(url: str | URL) -> str:
    """The URL with its password hidden, safe to print and to write to reports."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def admin_engine(url: URL) -> Engine:
    """An AUTOCOMMIT engine for CREATE/DROP DATABASE, with a short connect timeout."""
    query = dict(url.query)
    query.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    return create_engine(
        url.set(query=query),
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        poolclass=_null_pool(),
    )


def _null_pool():
    from sqlalchemy.pool import NullPool

    return NullPool


@dataclass
class ServerInfo:
    """What the plugin learned about a server before creating anything on it."""

    version: str
    has_icu: bool
    libc_linguistic: str | None
    # Our own server says why it has no linguistic collation (a custom setting, locales.COLLATION_NOTE_SETTING);
    # every process connecting to it learns that, xdist workers included.
    no_linguistic_reason: str | None = None


def check_server(admin: Engine, shown_url: str) -> ServerInfo:
    """Connect, check the privilege to create databases and what collations exist."""
    try:
        with admin.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
            can_create = conn.execute(
                text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            has_icu = bool(
                conn.execute(text("SELECT count(*) FROM pg_collation WHERE collname = 'en-US-x-icu'")).scalar()
            )
            libc = conn.execute(text(_LIBC_LINGUISTIC_SQL)).scalar()
            note = conn.execute(text(f"SELECT current_setting('{COLLATION_NOTE_SETTING}', true)")).scalar()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise BackendError(
            f"cannot connect to PostgreSQL at {shown_url}: {reason} — check host, port and "
            "credentials of --dualdb-pg-url / DUALDB_PG_URL, or omit it to start a local server"
        ) from None
    if not can_create:
        raise BackendError(
            f"the role in {shown_url} may not create databases; grant it with "
            "`ALTER ROLE <name> CREATEDB` or use a role that has CREATEDB"
        )
    return ServerInfo(
        version=str(version).split()[0], has_icu=has_icu, libc_linguistic=libc, no_linguistic_reason=note or None
    )


def choose_collation(info: ServerInfo, requested: str) -> tuple[str, str | None]:
    """Pick the locale clause for the throwaway database.

    Returns ``(description, warning)``. ``requested`` is ``auto`` or a
    collation the user named in ``dualdb_pg_collation`` (``C``, ``en-US-x-icu``,
    ``en_US.UTF-8`` ...). ``auto`` prefers ICU, then a libc ``en_US.UTF-8``
    (a system locale, or the one the plugin built for its own server), and
    falls back to bytewise C with one warning that says how to get better.
    """
    if requested and requested.lower() != "auto":
        return requested, None
    if info.has_icu:
        return "en-US-x-icu", None
    if info.libc_linguistic:
        return info.libc_linguistic, None
    hidden = ("the test database sorts bytewise (C) like SQLite, hiding text-ordering differences from a "
              "production server (a A b B, not A B a b)")
    if info.no_linguistic_reason:
        return "C", f"PostgreSQL has no ICU and {info.no_linguistic_reason}: {hidden}; {HOW_TO_GET_ONE}"
    return "C", (
        f"PostgreSQL has no ICU and no en_US.UTF-8 locale: {hidden}; use a server built with ICU or with the "
        "en_US.UTF-8 locale, or set dualdb_pg_collation to a collation the server has"
    )


def _locale_clause(collation: str) -> str:
    if collation.endswith("-x-icu") or collation.lower().startswith("icu:"):
        locale = collation.removesuffix("-x-icu").removeprefix("icu:").removeprefix("ICU:")
        return f"LOCALE_PROVIDER icu ICU_LOCALE '{_quote(locale)}' LOCALE 'C'"
    return f"LOCALE '{_quote(collation)}'"


def _quote(value: str) -> str:
    return value.replace("'", "''")


def new_database_name() -> str:
    return f"{DB_PREFIX}{system_token_hex(5)}"


def create_database(
    admin: Engine, name: str, collation: str, *, template: str = "template0", retries: int = 20
) -> None:
    """``CREATE DATABASE`` with the chosen collation, retrying while the template is busy.

    PostgreSQL refuses to copy a template another session is connected to;
    SQLAlchemy's own provisioning retries the same way.
    """
    sql = f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\''
    if template == "template0":
        sql += " " + _locale_clause(collation)
    for attempt in range(retries):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(sql)
            return
        except DBAPIError as exc:
            message = str(exc.orig)
            if "is being accessed by other users" in message and attempt < retries - 1:
                time.sleep(0.05 * (attempt + 1))
                continue
            if "locale" in message.lower() or "collation" in message.lower():
                raise BackendError(
                    f"cannot create the test database with collation {collation!r}: "
                    f"{message.strip().splitlines()[0]} — set dualdb_pg_collation to one the server has "
                    "(`SELECT collname FROM pg_collation`), or `C`"
                ) from None
            if "permission denied" in message.lower():
                raise BackendError(
                    "the PostgreSQL role may not create databases; grant CREATEDB or use another role"
                ) from None
            raise


def drop_database(admin: Engine, name: str) -> None:
    """Drop a database the plugin created (never any other)."""
    if not name.startswith(DB_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not created by pytest-dualdb")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_engine(url: URL, *, timezone: str = "UTC", lock_timeout_ms: int = 0) -> Engine:
    """A pooled engine on the test database.

    The session time zone mirrors a typical production server, so naive vs
    aware datetime handling is deterministic across machines.
    """
    options = f"-c TimeZone={timezone}"
    if lock_timeout_ms:
        options += f" -c lock_timeout={int(lock_timeout_ms)}"
    return create_engine(url, connect_args={"options": options}, pool_size=5, max_overflow=20)
