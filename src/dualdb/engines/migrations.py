"""Build each backend's schema from the project's Alembic migrations, and report what differs.

With ``dualdb_alembic_config`` set, the provisioner calls :meth:`Migrations.upgrade`
instead of ``create_all`` for every database it creates. Per backend it:

1. runs the project's own ``env.py`` once, pointed at the backend through both
   ways real ``env.py`` files read it: ``sqlalchemy.url`` in the config and
   ``config.attributes["connection"]`` (an open connection in a transaction);
2. applies the revisions one by one, committing after each, so a revision that
   fails leaves the schema at the one before it (on that engine only), and
   records which revision failed, the statement (or the ``op.`` line of the
   script when Alembic refused before emitting SQL) and the error;
3. reflects the migrated schema (tables, columns, NOT NULL, foreign keys,
   indexes, unique constraints) and, when ``dualdb_metadata`` is given too,
   compares it with the models through Alembic's autogenerate comparison.

:meth:`Migrations.findings` turns the two backends' runs into report entries
(``Report.schema_findings``): a ``migration`` entry per revision that failed
on an engine, and a ``drift`` entry per schema object that one engine's
migration path lost or never created while the other has it. Differences
both engines share (models ahead of the migrations everywhere) are ordinary
Alembic drift, not a SQLite/PostgreSQL difference, and are not reported.

Tests that touch what a failed revision would have created fail on that leg
only; :func:`install_failure_notes` makes their error name the revision.
"""

from __future__ import annotations

import linecache
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import MetaData, event, inspect
from sqlalchemy.engine import Engine

from dualdb.explain.migrations import drift_category, drift_fix, migration_failure
from dualdb.errors import BackendError, add_note
from dualdb.records import SchemaFinding

BACKENDS = ("sqlite", "postgresql")
VERSION_TABLE = "alembic_version"


# -- what one backend's upgrade did --------------------------------------------------


@dataclass
class StepOutcome:
    """One revision on one backend: ``applied``, ``failed`` or ``not_applied``."""

    revision: str
    doc: str = ""
    status: str = "not_applied"
    error: str | None = None
    statement: str | None = None
    location: str | None = None
    statements: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.revision} ({self.doc})" if self.doc else self.revision


@dataclass
class MigrationRun:
    """The result of upgrading one backend: its steps, the reflected schema, drift vs models."""

    backend: str
    target: str
    steps: list[StepOutcome] = field(default_factory=list)
    snapshot: set[tuple] = field(default_factory=set)
    metadata_drift: set[tuple[tuple, str]] | None = None  # (key, "missing"|"extra") vs dualdb_metadata
    current: tuple[str, ...] = ()

    @property
    def failed(self) -> StepOutcome | None:
        return next((s for s in self.steps if s.status == "failed"), None)

    def step(self, revision: str) -> StepOutcome | None:
        return next((s for s in self.steps if s.revision == revision), None)

    def not_applied(self) -> list[str]:
        return [s.revision for s in self.steps if s.status == "not_applied"]

    def last_touching(self, table: str) -> StepOutcome | None:
        """The last applied revision whose SQL on this backend changed ``table``."""
        found = None
        for step in self.steps:
            if step.status == "applied" and any(table in _tables_of(sql) for sql in step.statements):
                found = step
        return found


# -- running the migrations ------------------------------------------------------------


class Migrations:
    """Runs the project's migrations on each backend and compares the results."""

    def __init__(self, config_path: str, revision: str, metadatas: Callable[[], list[MetaData]]):
        self.config_path = config_path
        self.revision = revision or "head"
        self._metadatas = metadatas
        self.runs: dict[str, MigrationRun] = {}
        self._script = None
        self._findings: list[SchemaFinding] | None = None

    # the pieces of Alembic ---------------------------------------------------------

    def _path(self) -> Path:
        path = Path(self.config_path).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise BackendError(
                f"dualdb_alembic_config = {self.config_path!r}: no such file ({path}); give the path "
                "of your alembic.ini (or pyproject.toml), relative to the folder pytest runs in"
            )
        return path

    def _config(self, url: str):  # noqa: ANN202 - alembic.config.Config
        try:
            from alembic.config import Config
        except ImportError:
            raise BackendError(
                "dualdb_alembic_config needs Alembic: pip install 'pytest-dualdb[alembic]'"
            ) from None
        path = self._path()
        if path.suffix == ".toml":
            config = Config(toml_file=str(path))
        else:
            config = Config(str(path), toml_file=str(path.with_name("pyproject.toml")))
        config.file_config  # noqa: B018 - parse now (fills %(here)s) ...
        # ... then hide the file name: env.py's `fileConfig(config.config_file_name)` would
        # otherwise reconfigure logging (and disable pytest's loggers) for every backend.
        config.config_file_name = None
        location = config.get_alembic_option("script_location")
        if location and not Path(location).is_absolute() and not Path(location).exists():
            beside = path.parent / location
            if beside.exists():
                config.set_main_option("script_location", str(beside))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        return config

    def script(self, config):  # noqa: ANN001, ANN201
        if self._script is None:
            from alembic.script import ScriptDirectory
            from alembic.util import CommandError

            try:
                self._script = ScriptDirectory.from_config(config)
            except CommandError as exc:
                raise BackendError(f"dualdb_alembic_config = {self.config_path!r}: {exc}") from None
        return self._script

    # upgrading one backend ---------------------------------------------------------

    def upgrade(self, engine: Engine, backend: str, *, record: bool = True) -> MigrationRun:
        """Upgrade the database behind ``engine`` to the target revision, one revision at a time.

        ``record=False`` (a fresh database for ``db_fresh_engine``) builds the
        schema the same way but keeps no findings.
        """
        url = engine.url.render_as_string(hide_password=False)
        config = self._config(url)
        script = self.script(config)
        run = MigrationRun(backend=backend, target=self.revision)
        runner = _StepRunner(script, self.revision, run)
        from alembic.runtime.environment import EnvironmentContext

        with engine.connect() as conn:
            config.attributes["connection"] = conn
            runner.conn = conn
            conn.begin()
            event.listen(Engine, "before_cursor_execute", runner.on_sql)
            try:
                with EnvironmentContext(
                    config, script, fn=runner.steps, as_sql=False, starting_rev=None,
                    destination_rev=self.revision, tag=None,
                ):
                    script.run_env()
            except Exception as exc:  # a revision (or env.py) failed: record it, keep what applied
                runner.failed(exc)
            finally:
                event.remove(Engine, "before_cursor_execute", runner.on_sql)
                config.attributes.pop("connection", None)
            if conn.in_transaction():
                conn.commit()
            runner.settle(conn)
            if record:
                run.snapshot = schema_snapshot(conn)
                metadatas = self._metadatas()
                if metadatas:
                    run.metadata_drift = metadata_drift(conn, metadatas)
            conn.commit()
        if record:
            self.runs[backend] = run
            self._findings = None
        return run

    # findings --------------------------------------------------------------------

    def findings(self) -> list[SchemaFinding]:
        """Report entries for what differs between the backends' migrated schemas."""
        if self._findings is None:
            self._findings = build_findings(self.runs)
        return list(self._findings)


class _StepRunner:
    """Feeds Alembic one revision at a time and commits after each, noting what happened."""

    def __init__(self, script, target: str, run: MigrationRun):  # noqa: ANN001
        self.script = script
        self.target = target
        self.run = run
        self.conn = None
        self.current: StepOutcome | None = None
        self.paths: dict[str, str] = {}
        self.shared_connection = False

    def steps(self, rev, context):  # noqa: ANN001, ANN201 - Alembic's `fn(rev, context)`
        planned = self.script._upgrade_revs(self.target, rev)
        for step in planned:
            script = step.revision
            self.run.steps.append(StepOutcome(revision=script.revision, doc=(script.doc or "").strip()))
            self.paths[script.revision] = str(getattr(script, "path", "") or "")
        self.shared_connection = context.connection is self.conn
        return self._iterate(planned)

    def _iterate(self, planned):  # noqa: ANN001, ANN202
        for index, step in enumerate(planned):
            self.current = self.run.steps[-len(planned) + index]
            yield step
            # Alembic asks for the next step only after this one succeeded
            self.current.status = "applied"
            self.current = None
            if self.shared_connection and self.conn.in_transaction():
                self.conn.commit()  # keep it even if a later revision fails

    def on_sql(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.current is not None:
            self.current.statements.append(statement)

    def failed(self, exc: BaseException) -> None:
        step = self.current
        if step is None:
            raise BackendError(
                f"dualdb_alembic_config: Alembic's env.py failed on {self.run.backend} outside any revision: "
                f"{_error_text(exc)} (check env.py and script_location)"
            ) from exc
        step.status = "failed"
        step.error = _error_text(exc)
        step.statement = _failed_statement(exc, step)
        step.location = _script_location(exc, self.paths.get(step.revision, ""))
        self.current = None
        if self.conn is not None and self.conn.in_transaction():
            self.conn.rollback()  # undo the failed revision's partial work

    def settle(self, conn) -> None:  # noqa: ANN001
        """Trust the database's ``alembic_version`` over the plan (an env.py with its own transaction)."""
        from alembic.runtime.migration import MigrationContext

        try:
            heads = MigrationContext.configure(conn).get_current_heads()
        except Exception:  # noqa: BLE001 - no version table: nothing applied
            heads = ()
        self.run.current = tuple(heads)
        applied: set[str] = set()
        for head in heads:
            try:
                for rev in self.script.iterate_revisions(head, "base"):
                    applied.add(rev.revision)
            except Exception:  # noqa: BLE001 - an unknown head: leave the plan as recorded
                return
        for step in self.run.steps:
            if step.status == "applied" and step.revision not in applied:
                step.status = "not_applied"  # rolled back with a later failure


def _error_text(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    source = orig if orig is not None else exc
    lines = [line.strip() for line in str(source).strip().splitlines() if line.strip()]
    return f"{type(source).__name__}: {lines[0] if lines else ''}".strip()


def _failed_statement(exc: BaseException, step: StepOutcome) -> str | None:
    statement = getattr(exc, "statement", None)
    if statement:
        return " ".join(str(statement).split())
    return None


def _script_location(exc: BaseException, path: str) -> str | None:
    """``versions/x.py:12: op.alter_column(...)`` — the line of the revision that raised."""
    if not path:
        return None
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == Path(path).resolve():
            found = frame
    if found is None:
        return None
    line = (found.line or linecache.getline(found.filename, found.lineno)).strip()
    return f"{Path(path).name}:{found.lineno}: {line}"


# -- the migrated schema, engine-neutral -----------------------------------------------


def schema_snapshot(conn) -> set[tuple]:  # noqa: ANN001
    """The schema as keys that compare equal across engines (names of constraints left out)."""
    insp = inspect(conn)
    keys: set[tuple] = set()
    for table in insp.get_table_names():
        if table == VERSION_TABLE or table.startswith("sqlite_"):
            continue
        keys.add(("table", table))
        pk = set(insp.get_pk_constraint(table).get("constrained_columns") or ())
        for column in insp.get_columns(table):
            keys.add(("column", table, column["name"]))
            if not column.get("nullable", True) and column["name"] not in pk:
                keys.add(("not_null", table, column["name"]))
        for fk in insp.get_foreign_keys(table):
            referred = list(fk.get("referred_columns") or ())
            if not referred:
                referred = insp.get_pk_constraint(fk["referred_table"]).get("constrained_columns") or []
            keys.add(("fk", table, tuple(fk["constrained_columns"]), fk["referred_table"], tuple(referred)))
        for index in insp.get_indexes(table):
            if index.get("duplicates_constraint"):
                continue
            columns = tuple(c for c in index.get("column_names") or () if c)
            keys.add(("unique" if index.get("unique") else "index", table, columns))
        for unique in insp.get_unique_constraints(table):
            keys.add(("unique", table, tuple(unique["column_names"])))
    return keys


def metadata_drift(conn, metadatas: list[MetaData]) -> set[tuple[tuple, str]]:  # noqa: ANN001
    """Alembic's autogenerate comparison of the migrated schema with the models, as keys.

    Each item is ``(key, "missing")`` (the models have it, the database not)
    or ``(key, "extra")``. Types and server defaults are not compared: their
    reflection differs between engines by nature.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def include(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
        return not (type_ == "table" and name == VERSION_TABLE)

    target = metadatas[0] if len(metadatas) == 1 else list(metadatas)
    context = MigrationContext.configure(
        conn,
        opts={"compare_type": False, "compare_server_default": False, "include_object": include},
    )
    drift: set[tuple[tuple, str]] = set()
    for diff in _flatten(compare_metadata(context, target)):
        item = _diff_key(diff)
        if item is not None:
            drift.add(item)
    return drift


def _flatten(diffs: list) -> list:
    out = []
    for diff in diffs:
        if isinstance(diff, list):
            out.extend(_flatten(diff))
        else:
            out.append(diff)
    return out


def _diff_key(diff: tuple) -> tuple[tuple, str] | None:
    kind = diff[0]
    direction = "missing" if kind.startswith("add_") else "extra"
    if kind in ("add_table", "remove_table"):
        return ("table", diff[1].name), direction
    if kind in ("add_column", "remove_column"):
        return ("column", diff[2], diff[3].name), direction
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        columns = tuple(c.name for c in index.columns)
        return ("unique" if index.unique else "index", index.table.name, columns), direction
    if kind in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        if constraint.__class__.__name__ != "UniqueConstraint":
            return None
        return ("unique", constraint.table.name, tuple(c.name for c in constraint.columns)), direction
    if kind in ("add_fk", "remove_fk"):
        fk = diff[1]
        elements = list(fk.elements)
        return (
            "fk",
            fk.parent.name,
            tuple(e.parent.name for e in elements),
            elements[0].column.table.name if elements else "",
            tuple(e.column.name for e in elements),
        ), direction
    if kind == "modify_nullable":
        # ("modify_nullable", schema, table, column, existing_kw, reflected_nullable, model_nullable)
        table, column, model_nullable = diff[2], diff[3], diff[6]
        return ("not_null", table, column), ("missing" if model_nullable is False else "extra")
    return None


# -- findings --------------------------------------------------------------------------


def build_findings(runs: dict[str, MigrationRun]) -> list[SchemaFinding]:
    """``migration`` findings (a revision failed on an engine) and ``drift`` on one engine only."""
    findings = _migration_findings(runs)
    if all(name in runs for name in BACKENDS):
        findings.extend(_drift_findings(runs))
    return findings


def _migration_findings(runs: dict[str, MigrationRun]) -> list[SchemaFinding]:
    findings: list[SchemaFinding] = []
    failed: dict[str, list[str]] = {}
    for name in BACKENDS:
        run = runs.get(name)
        if run is not None and run.failed is not None:
            failed.setdefault(run.failed.revision, []).append(name)
    for revision, engines in failed.items():
        first = runs[engines[0]].failed
        legs = {}
        for name in BACKENDS:
            run = runs.get(name)
            step = run.step(revision) if run is not None else None
            legs[name] = step.status if step is not None else ("not run" if run is None else "applied")
        backend = engines[0] if len(engines) == 1 else "both"
        category, fix = migration_failure(engines[0], first.error, first.statement, first.location)
        findings.append(
            SchemaFinding(
                kind="migration",
                backend=backend,
                name=first.label,
                revision=revision,
                error=first.error,
                statement=first.statement or first.location,
                location=first.location,
                category=category,
                fix=fix,
                legs=legs,
                not_applied=runs[engines[0]].not_applied(),
            )
        )
    return findings


def _drift_findings(runs: dict[str, MigrationRun]) -> list[SchemaFinding]:
    """Schema objects one engine's migration path lost or never created."""
    findings: list[SchemaFinding] = []
    seen: set[tuple] = set()
    failed_tables = _tables_of_failures(runs)
    # 1. vs the models (Alembic's comparison per backend), when dualdb_metadata is given
    sqlite_run, pg_run = runs["sqlite"], runs["postgresql"]
    if sqlite_run.metadata_drift is not None and pg_run.metadata_drift is not None:
        for name, other in (("sqlite", "postgresql"), ("postgresql", "sqlite")):
            only_here = runs[name].metadata_drift - runs[other].metadata_drift
            for key, direction in sorted(only_here, key=repr):
                if _key_table(key) in failed_tables.get(name, set()):
                    continue  # the failed revision's, reported as such
                seen.add((key, name))
                findings.append(_drift_entry(runs, name, other, key, direction, "models"))
    # 2. the two migrated schemas against each other (works without dualdb_metadata)
    for name, other in (("sqlite", "postgresql"), ("postgresql", "sqlite")):
        for key in sorted(runs[other].snapshot - runs[name].snapshot, key=repr):
            if (key, name) in seen or _key_table(key) in failed_tables.get(name, set()):
                continue
            if _covered(key, runs[other].snapshot - runs[name].snapshot):
                continue  # a missing table implies its columns, indexes and keys
            seen.add((key, name))
            findings.append(_drift_entry(runs, name, other, key, "missing", "engine"))
    return findings


def _tables_of_failures(runs: dict[str, MigrationRun]) -> dict[str, set[str]]:
    """Tables touched by revisions that failed or never ran on a backend: their drift is the failure's."""
    out: dict[str, set[str]] = {}
    for name, run in runs.items():
        if run.failed is None:
            continue
        other = runs.get("postgresql" if name == "sqlite" else "sqlite")
        tables: set[str] = set()
        for step in run.steps:
            if step.status in ("failed", "not_applied"):
                twin = other.step(step.revision) if other is not None else None
                for sql in (twin.statements if twin is not None else []) + step.statements:
                    tables |= _tables_of(sql)
        out[name] = tables
    return out


def _covered(key: tuple, missing: set[tuple]) -> bool:
    return key[0] != "table" and ("table", key[1]) in missing


def _key_table(key: tuple) -> str:
    return key[1]


def describe_key(key: tuple) -> str:
    kind = key[0]
    if kind == "table":
        return f"table {key[1]}"
    if kind == "column":
        return f"column {key[1]}.{key[2]}"
    if kind == "not_null":
        return f"NOT NULL on {key[1]}.{key[2]}"
    if kind == "fk":
        return f"foreign key {key[1]}({', '.join(key[2])}) -> {key[3]}({', '.join(key[4])})"
    if kind == "unique":
        return f"unique constraint on {key[1]}({', '.join(key[2])})"
    return f"index on {key[1]}({', '.join(key[2])})"


def _drift_entry(
    runs: dict[str, MigrationRun], name: str, other: str, key: tuple, direction: str, source: str
) -> SchemaFinding:
    what = describe_key(key)
    table = _key_table(key)
    step = runs[name].last_touching(table) or runs[other].last_touching(table)
    revision = step.revision if step is not None else None
    if direction == "missing":
        where = f"{other} and the models have it" if source == "models" else f"{other} has it"
        error = f"{what} is missing on {name} after migrating ({where})"
    else:
        error = f"{what} exists on {name} after migrating but not in the models (nor on {other})"
    if step is not None:
        error += f"; revision {step.label} is the last one that changed {table} on {name}"
    statement = None
    if step is not None:
        statement = next(
            (s for s in reversed(step.statements) if table in _tables_of(s) and s.lstrip().upper().startswith("CREATE")),
            None,
        ) or next((s for s in reversed(step.statements) if table in _tables_of(s)), None)
    return SchemaFinding(
        kind="drift",
        backend=name,
        name=what,
        revision=revision,
        error=error,
        statement=" ".join(statement.split()) if statement else None,
        category=drift_category(key[0]),
        fix=drift_fix(key[0], name, direction),
        direction=direction,
    )


# -- telling failing tests why ---------------------------------------------------------

_MISSING_OBJECT = re.compile(
    r"no such table|no such column|has no column named|does not exist|undefined(table|column)",
    re.IGNORECASE,
)


def failure_note(backend: Any, message: str) -> str | None:
    """The note added to a database error on a backend whose migrations stopped early."""
    run = getattr(backend, "migration", None)
    failed = run.failed if run is not None else None
    if failed is None or not _MISSING_OBJECT.search(message):
        return None
    rest = [r for r in run.not_applied()]
    tail = f"; not applied after it: {', '.join(rest)}" if rest else ""
    return (
        f"dualdb: the {backend.name} schema stops before Alembic revision {failed.label}, which failed "
        f"there: {failed.error}{tail}"
    )


def install_failure_notes(engine: Engine, backend: Any) -> None:
    """Make database errors on ``engine`` name the revision that failed on this backend."""

    @event.listens_for(engine, "handle_error")
    def _note_failed_revision(context) -> None:  # noqa: ANN001
        exc = context.sqlalchemy_exception
        if exc is None:
            return
        note = failure_note(backend, str(context.original_exception))
        if note is not None and note not in getattr(exc, "__notes__", ()):
            add_note(exc, note)


_TABLE_RE = re.compile(
    r"""(?:\bTABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?|\bINTO\s+|\bUPDATE\s+|\bFROM\s+|\bON\s+|\bREFERENCES\s+)
        ["`\[]?(?:[A-Za-z_][A-Za-z0-9_]*["`\]]?\.["`\[]?)?([A-Za-z_][A-Za-z0-9_]*)""",
    re.IGNORECASE | re.VERBOSE,
)


def _tables_of(sql: str) -> set[str]:
    """Table names a DDL/DML statement names (batch mode's ``_alembic_tmp_x`` counts as ``x``)."""
    names = set()
    for name in _TABLE_RE.findall(sql or ""):
        names.add(name.removeprefix("_alembic_tmp_"))
    return names
