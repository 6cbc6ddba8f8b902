"""Schema reuse across runs: fingerprints of what determines a built schema, and its cached forms.

Building the schema is most of a warm run's fixed cost on a large project
(120 tables: ~1.2 s; 40 Alembic revisions: ~0.8 s), and it is the same on
every run until the models, the migrations or the settings change. So a
built schema is kept, keyed by a fingerprint of exactly what determines it:

* the DDL the models compile to (PostgreSQL and SQLite dialects: tables with
  their constraints, indexes, column types with enum values), or the
  content of the Alembic scripts (alembic.ini, env.py, every revision) and
  the target revision (plus the models' DDL when both are configured: the
  drift findings compare with them);
* the settings that shape it: collation, timezone, SQLite PRAGMAs;
* the engine: PostgreSQL server version and collation; SQLite library version.

Anything else a schema could depend on (an ``env.py`` reading the environment,
a model built from a file the fingerprint does not read) is what
``--dualdb-rebuild`` is for.

The kept forms: on PostgreSQL a ``dualdb_tpl_<fp>`` template database whose
``COMMENT ON DATABASE`` holds its fingerprint and what the build recorded
(tables created/failed, the Alembic run with its findings) -- written only
after the build finished, so a half-built template never passes the check;
on SQLite a folder ``<cache>/sqlite/<fp>/`` with the schema file and the
same record, published by an atomic rename.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import hashlib
import json
import os
import shutil
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import MetaData
from sqlalchemy.schema import CreateIndex, CreateTable

from dualdb.engines.schema import SchemaState

LAYOUT = 1  # bump when what a cached schema holds changes
KEEP = 3  # cached schemas kept per cache folder (least recently used dropped)
TEMPLATE_PREFIX = "dualdb_tpl_"
_COMMENT_HEAD = "pytest-dualdb schema template "


# -- fingerprints ------------------------------------------------------------------------


def _digest(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def metadata_ddl(metadatas: list[MetaData], dialect_name: str) -> list[str]:
    """The DDL ``create_all`` would send on ``dialect_name``, table by table, in a stable order.

    Column type reprs are added because the DDL names an enum type without
    its values, and a changed enum changes the schema.
    """
    dialect = _dialect(dialect_name)
    out: list[str] = []
    for metadata in metadatas:
        for table in metadata.sorted_tables:
            try:
                out.append(str(CreateTable(table).compile(dialect=dialect)).strip())
                out.extend(str(CreateIndex(i).compile(dialect=dialect)).strip() for i in
                           sorted(table.indexes, key=lambda i: i.name or ""))
            except Exception as exc:  # noqa: BLE001 - a type this dialect cannot compile: its failure is the schema
                out.append(f"{table.fullname}: {type(exc).__name__}: {exc}")
            out.extend(f"{table.fullname}.{c.name}: {c.type!r}" for c in table.columns)
    return out


def _dialect(name: str):  # noqa: ANN202
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.dialect()
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


def alembic_sources(config_path: str) -> list[tuple[str, str]]:
    """``(relative path, sha256)`` of alembic.ini and every script of its script folder.

    Read through Alembic's own Config/ScriptDirectory, so ``%(here)s`` and a
    ``script_location`` relative to the ini resolve as they do for the upgrade.
    """
    from dualdb.engines.migrations import Migrations

    migrations = Migrations(config_path, "head", list)
    folder = _script_folder(migrations._path())
    if folder is None:  # a package resource or an unusual ini: ask Alembic itself (imports it: ~0.25 s)
        folder = Path(migrations.script(migrations._config("sqlite://")).dir)
    files = [migrations._path()]
    files += sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                    and p.suffix in (".py", ".mako", ".sql", ".ini", ".toml"))
    return [(str(p.relative_to(folder) if p.is_relative_to(folder) else p.name), _file_hash(p)) for p in files]


def _script_folder(ini: Path) -> Path | None:
    """The script folder alembic.ini names, read as Alembic reads it (``%(here)s`` is the ini's
    folder, a relative path is relative to it or else to the working directory), without
    importing Alembic: a reused schema's run shouldn't pay for it."""
    import configparser

    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    try:
        parser.read(ini, encoding="utf-8")
        location = parser.get("alembic", "script_location")
    except (configparser.Error, OSError):
        return None
    path = Path(location)
    if ":" in location and not path.is_absolute() and not Path(location.split(":", 1)[0]).exists():
        return None  # package:resource
    for candidate in ([path] if path.is_absolute() else [ini.parent / path, Path.cwd() / path]):
        if (candidate / "env.py").is_file():
            return candidate.resolve()
    return None


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_fingerprint(settings: Any, metadatas: list[MetaData]) -> str:
    """What the project declares: models' DDL on both dialects, or migration scripts + target."""
    parts: dict[str, Any] = {"layout": LAYOUT, "collation": settings.pg_collation,
                             "timezone": settings.pg_timezone, "pragmas": list(settings.sqlite_pragmas)}
    if metadatas:
        parts["postgresql"] = metadata_ddl(metadatas, "postgresql")
        parts["sqlite"] = metadata_ddl(metadatas, "sqlite")
    if settings.alembic_config:
        parts["alembic"] = alembic_sources(settings.alembic_config)
        parts["revision"] = settings.alembic_revision
    return _digest(parts)[:32]


def postgres_fingerprint(source: str, server_version: str, collation: str | None, role: str | None) -> str:
    """Per role too: only a template's owner (or a superuser) may clone it, so each role keeps its own."""
    return _digest([source, "postgresql", server_version, collation, role])[:16]


def sqlite_fingerprint(source: str) -> str:
    return _digest([source, "sqlite", sqlite3.sqlite_version])[:16]


def template_name(fingerprint: str) -> str:
    return f"{TEMPLATE_PREFIX}{fingerprint}"


# -- what a build recorded, as text -----------------------------------------------------


def encode_state(schema: SchemaState | None, migration: Any) -> dict[str, Any]:
    """A JSON-able record of a build: the tables' state, and the Alembic run (with its findings' inputs)."""
    record: dict[str, Any] = {}
    if schema is not None:
        record["schema"] = {"created": sorted(schema.created), "failed": schema.failed,
                            "seen_tables": schema.seen_tables}
    if migration is not None:
        record["migration"] = {
            "backend": migration.backend, "target": migration.target,
            "steps": [dataclasses.asdict(s) for s in migration.steps],
            "snapshot": sorted(repr(k) for k in migration.snapshot),
            "metadata_drift": None if migration.metadata_drift is None
            else sorted(repr(k) for k in migration.metadata_drift),
            "current": list(migration.current),
        }
    return record


def decode_state(record: dict[str, Any]) -> tuple[SchemaState | None, Any]:
    """Inverse of ``encode_state`` (keys are tuples of strings: ``repr`` / ``literal_eval`` round-trip them)."""
    schema = None
    if "schema" in record:
        data = record["schema"]
        schema = SchemaState(created=set(data["created"]), failed=dict(data["failed"]),
                             seen_tables=int(data["seen_tables"]))
    migration = None
    if "migration" in record:
        from dualdb.engines.migrations import MigrationRun, StepOutcome

        data = record["migration"]
        drift = data["metadata_drift"]
        migration = MigrationRun(
            backend=data["backend"], target=data["target"],
            steps=[StepOutcome(**s) for s in data["steps"]],
            snapshot={ast.literal_eval(k) for k in data["snapshot"]},
            metadata_drift=None if drift is None else {ast.literal_eval(k) for k in drift},
            current=tuple(data["current"]),
        )
    return schema, migration


def template_comment(fingerprint: str, record: dict[str, Any]) -> str:
    """The template's proof of origin: a fixed head, the fingerprint, then the record (compressed, base64:
    no quoting to get wrong in ``COMMENT ON DATABASE``)."""
    blob = base64.b64encode(zlib.compress(json.dumps(record).encode())).decode()
    return f"{_COMMENT_HEAD}{fingerprint} {blob}"


def read_comment(comment: str | None, fingerprint: str) -> dict[str, Any] | None:
    """The record of a template whose comment proves it is the finished build of ``fingerprint``, else None."""
    if not comment or not comment.startswith(f"{_COMMENT_HEAD}{fingerprint} "):
        return None
    try:
        return json.loads(zlib.decompress(base64.b64decode(comment.split(" ")[-1])))
    except (ValueError, zlib.error):
        return None


# -- the SQLite file cache ------------------------------------------------------------------


def sqlite_entry(cache_dir: Path, fingerprint: str) -> Path:
    return cache_dir / "sqlite" / fingerprint


def load_sqlite(cache_dir: Path, fingerprint: str, dest: Path) -> dict[str, Any] | None:
    """Copy the cached schema file to ``dest`` and return its record; None when there is none (or it is unreadable)."""
    entry = sqlite_entry(cache_dir, fingerprint)
    try:
        record = json.loads((entry / "state.json").read_text())
        shutil.copyfile(entry / "schema.db", dest)
    except (OSError, ValueError):
        return None
    _touch(entry)
    return record


def publish_sqlite(cache_dir: Path, fingerprint: str, built: Path, record: dict[str, Any]) -> None:
    """Publish ``built`` (a closed SQLite file with the schema) and its record, replacing an older entry."""
    entry = sqlite_entry(cache_dir, fingerprint)
    entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def fill(tmp: Path) -> None:
        shutil.copyfile(built, tmp / "schema.db")
        (tmp / "state.json").write_text(json.dumps(record))

    publish_replacing(entry, fill)
    prune(entry.parent, "", KEEP)


# -- folders: atomic replacement and LRU ------------------------------------------------------


def publish_replacing(target: Path, fill: Callable[[Path], None]) -> None:
    """Publish ``target`` atomically; an existing one (a forced rebuild) is moved aside first.

    Between the two renames a concurrent run finds no entry and builds its
    own: slower, never half-built.
    """
    from dualdb.engines.server.files import publish_dir

    if target.exists():
        _discard(target)
    publish_dir(target, fill, mode=0o700)


def prune(folder: Path, prefix: str, keep: int) -> list[Path]:
    """Remove all but the ``keep`` most recently used entries named ``<prefix>*`` in ``folder``."""
    try:
        entries = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(prefix) and not p.name.startswith(".")]
    except OSError:
        return []
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        _discard(old)
    return entries[keep:]


def _discard(path: Path) -> None:
    """Rename first (atomic: readers see it or not), then delete at leisure."""
    trash = path.with_name(f".{path.name}.trash-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(path, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _touch(path: Path) -> None:
    """Mark an entry used (its mtime orders the LRU)."""
    try:
        os.utime(path)
    except OSError:
        pass
