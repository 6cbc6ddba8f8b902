"""The data that travels through a run, declared once: what capture records, what a leg
sends, what comparison finds, what the report keeps.

A leaf module — it imports nothing else of the package — so every layer can
name these types. They are ``slots`` dataclasses: readers use attributes, a
field is spelled in one place, and a leg keeping thousands of statements costs
less than as dicts. Each has one constructor (the class itself) and, where the
data leaves the process, ``to_dict``/``from_dict``:

* ``to_dict`` writes exactly the ``dualdb-report/1`` shape (``dualdb.json``):
  keys a record did not have before these types existed are still left out,
  so the schema's readers see no change;
* ``from_dict`` reads that shape back (``dualdb report FILE.json``, a leg an
  xdist worker sent as plain data). It is the only place a record is read
  from a dict.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Any, Literal

DifferenceSource = Literal["outcome", "observation", "statement", "paired", "hypothesis"]


@dataclass(slots=True)
class ErrorRecord:
    """An exception: class name, first message line, the engine's error code when it has one
    (PostgreSQL's SQLSTATE, SQLite's extended result code name)."""

    type: str
    message: str
    code: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"type": self.type, "message": self.message}
        if self.code is not None:
            out["code"] = self.code
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ErrorRecord | None:
        if not data:
            return None
        return cls(str(data.get("type") or ""), str(data.get("message") or ""), data.get("code"))


@dataclass(slots=True)
class CapturedStatement:
    """One statement of one leg, as capture records it (``capture.StatementRecord.to_record``).

    ``sql``, ``params``, ``rows`` and ``error`` are always in the JSON; the other
    fields only when known (a leg keeps thousands of these).
    """

    sql: str
    params: Any  # normalised, in bind-name order (or placeholder order)
    rows: list[list[Any]] | None  # the rows the application fetched, normalised
    error: ErrorRecord | None
    columns: list[str] | None = None  # in the JSON when rows were fetched (null: names not known)
    fetched: int | None = None  # rows fetched, when more than ``rows`` kept
    rowcount: int | None = None
    lastrowid: int | None = None  # SQLite's id of a new row, where PostgreSQL used RETURNING
    digest: str | None = None  # rows past the kept ones: hash in order ...
    set_digest: str | None = None  # ... and as a multiset
    digested_rows: int = 0
    ordered: bool = False  # a top-level ORDER BY (the JSON says so with "order_keys" when they are known)
    order_keys: list[int] | None = None  # result positions of the ORDER BY keys
    order_by: list[list[Any]] | None = None  # [[type name, nullable], ...] of the ORDER BY keys
    param_keys: list[int] | None = None  # positions of parameters bound to a key (id, user_id ...)

    @property
    def fetched_rows(self) -> int:
        """How many rows the application fetched (``fetched`` when more than kept)."""
        return self.fetched if self.fetched is not None else len(self.rows or ())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sql": self.sql,
            "params": self.params,
            "rows": self.rows,
            "error": None if self.error is None else self.error.to_dict(),
        }
        if self.param_keys is not None:
            out["param_keys"] = self.param_keys
        if self.rows is not None:
            out["columns"] = self.columns
        if self.fetched is not None:
            out["fetched"] = self.fetched
        if self.rowcount is not None:
            out["rowcount"] = self.rowcount
        if self.lastrowid is not None:
            out["lastrowid"] = self.lastrowid
        if self.digested_rows:
            out["digest"] = self.digest
            out["set_digest"] = self.set_digest
            out["digested_rows"] = self.digested_rows
        if self.order_by is not None:
            out["order_by"] = self.order_by
        if self.order_keys is not None:
            out["order_keys"] = self.order_keys  # implies "ordered"
        elif self.ordered:
            out["ordered"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CapturedStatement:
        get = data.get
        return cls(
            sql=str(get("sql") or ""),
            params=get("params"),
            rows=get("rows"),
            error=ErrorRecord.from_dict(get("error")),
            columns=get("columns"),
            fetched=get("fetched"),
            rowcount=get("rowcount"),
            lastrowid=get("lastrowid"),
            digest=get("digest"),
            set_digest=get("set_digest"),
            digested_rows=get("digested_rows") or 0,
            ordered=bool(get("ordered")) or get("order_keys") is not None,
            order_keys=get("order_keys"),
            order_by=get("order_by"),
            param_keys=get("param_keys"),
        )


@dataclass(slots=True)
class Observation:
    """One ``observe(label, value)`` of a leg: the label as text, the value normalised
    (``normalize.Normalizer``), in the order the test observed them."""

    label: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "value": self.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        label = data.get("label")
        return cls("" if label is None else str(label), data.get("value"))


@dataclass(slots=True)
class Explanation:
    """Why the engines differ and how to fix the application code."""

    title: str
    why: str
    fix: str
    rule: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"title": self.title, "why": self.why, "fix": self.fix, "rule": self.rule}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Explanation | None:
        if not data:
            return None
        return cls(str(data.get("title") or ""), str(data.get("why") or ""), str(data.get("fix") or ""), data.get("rule"))


# the fields each source of difference carries in the JSON besides the common ones
_SOURCE_FIELDS = {
    "statement": ("index_other", "params", "columns", "ordered", "order_by"),
    "paired": ("params", "ordered", "example"),
    "hypothesis": ("params", "ordered", "example"),
}


@dataclass(slots=True)
class Difference:
    """One place where the two legs of a test parted.

    ``values`` maps each backend to what it gave there; ``shape`` names the kind
    of difference (``compare.classify``). ``source`` says where it was found:
    a leg's ``outcome``, an ``observation`` (``index``/``label``), a ``statement``
    (``index``/``index_other`` in each leg, its ``params``, ``columns``, order),
    or a ``paired``/``hypothesis`` call of the ``dual`` fixture (``example``).
    In a report entry's ``differences`` each also carries its ``category`` and
    ``explanation``, and ``repeats`` when copies of one root cause collapsed into it.
    """

    source: DifferenceSource
    values: dict[str, Any]
    shape: str
    index: int | None = None  # statement position in the SQLite leg (or observation position)
    label: str | None = None  # the observation's label (a paired call's text)
    sql: dict[str, str | None] | None = None  # backend -> SQL
    note: str | None = None
    index_other: int | None = None  # statement position in the PostgreSQL leg
    params: Any = None
    columns: list[str] | None = None
    ordered: bool = False
    order_by: list[list[Any]] | None = None
    example: dict[str, Any] | None = None  # a paired call: call, args, Hypothesis' example, examples run
    statement: Difference | None = None  # the statement difference behind an outcome or observation
    category: str | None = None
    explanation: Explanation | None = None
    repeats: int = 1  # copies of this root cause collapsed into it

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source, "index": self.index, "label": self.label, "sql": self.sql,
            "values": self.values, "shape": self.shape, "note": self.note,
        }
        for name in _SOURCE_FIELDS.get(self.source, ()):
            out[name] = getattr(self, name)
        if self.statement is not None:
            out["statement"] = self.statement.to_dict()
        if self.explanation is not None:
            out["category"] = self.category
            out["explanation"] = self.explanation.to_dict()
        if self.repeats != 1:
            out["repeats"] = self.repeats
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Difference | None:
        if not data:
            return None
        get = data.get
        return cls(
            source=get("source") or "statement",
            values=get("values") or {},
            shape=str(get("shape") or "value"),
            index=get("index"),
            label=get("label"),
            sql=get("sql"),
            note=get("note"),
            index_other=get("index_other"),
            params=get("params"),
            columns=get("columns"),
            ordered=bool(get("ordered")),
            order_by=get("order_by"),
            example=get("example"),
            statement=cls.from_dict(get("statement")),
            category=get("category"),
            explanation=Explanation.from_dict(get("explanation")),
            repeats=get("repeats") or 1,
        )


@dataclass(slots=True)
class SchemaFinding:
    """A migration that failed on one engine (``kind="migration"``), or schema drift on one
    engine (``kind="drift"``); ``id`` and ``acknowledged`` are set when the run's
    baseline and ``dualdb_known_schema`` were applied (``run.baseline.acknowledge_schema``)."""

    kind: str  # "migration" | "drift"
    backend: str  # an engine, or "both" (a revision that failed on both)
    name: str | None = None  # the revision's label, or what drifted
    revision: str | None = None
    error: str | None = None
    statement: str | None = None
    category: str | None = None
    fix: str | None = None
    location: str | None = None  # migration: where in the revision it failed
    legs: dict[str, str] | None = None  # migration: each engine's status of the revision
    not_applied: list[str] | None = None  # migration: the revisions not applied after it
    direction: str | None = None  # drift: "missing" | "extra"
    id: str | None = None  # "migration:<backend>:<revision>" or "drift:<backend>:<what>"
    acknowledged: str | None = None  # what acknowledged it: the ini key or the baseline

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind, "backend": self.backend, "name": self.name, "revision": self.revision,
            "error": self.error, "statement": self.statement,
        }
        if self.kind == "migration":
            out["location"] = self.location
        out["category"] = self.category
        out["fix"] = self.fix
        if self.kind == "migration":
            out["legs"] = self.legs
            out["not_applied"] = self.not_applied
        else:
            out["direction"] = self.direction
        if self.id is not None:
            out["id"] = self.id
            out["acknowledged"] = self.acknowledged
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchemaFinding:
        get = data.get
        return cls(
            kind=str(get("kind") or "schema"), backend=str(get("backend") or "-"), name=get("name"),
            revision=get("revision"), error=get("error"), statement=get("statement"),
            category=get("category"), fix=get("fix"), location=get("location"), legs=get("legs"),
            not_applied=get("not_applied"), direction=get("direction"), id=get("id"),
            acknowledged=get("acknowledged"),
        )


@dataclass(slots=True)
class BaselineInfo:
    """What ``--dualdb-baseline`` accepted, in ``dualdb.json``'s ``baseline``.

    ``file`` is the baseline given; the ``schema_*`` lists are set when schema
    findings were checked against it.
    """

    file: str
    new: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    disappeared: list[str] = field(default_factory=list)
    schema_new: list[str] | None = None
    schema_accepted: list[str] | None = None
    schema_disappeared: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "new": self.new, "accepted": self.accepted,
                               "disappeared": self.disappeared}
        for name in ("schema_new", "schema_accepted", "schema_disappeared"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BaselineInfo | None:
        if not isinstance(data, dict):
            return None

        def names(key: str) -> list[str] | None:
            value = data.get(key)
            if value is None:
                return None
            return [str(x) for x in value] if isinstance(value, list) else [str(value)]

        # reports written before the key was settled said "path" or "source"
        source = data.get("file") or data.get("path") or data.get("source") or ""
        return cls(
            file=str(source), new=names("new") or [], accepted=names("accepted") or [],
            disappeared=names("disappeared") or [], schema_new=names("schema_new"),
            schema_accepted=names("schema_accepted"), schema_disappeared=names("schema_disappeared"),
        )


@dataclass(slots=True)
class RerunSummary:
    """What running a diverged test again showed (``dualdb_reruns``): how many re-runs,
    whether every one diverged again, and each engine whose own result changed between runs."""

    runs: int
    reproduced: bool
    nondeterministic: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "reproduced": self.reproduced, "nondeterministic": list(self.nondeterministic)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RerunSummary | None:
        if not data:
            return None
        return cls(int(data.get("runs") or 0), bool(data.get("reproduced")), list(data.get("nondeterministic") or []))


@dataclass(slots=True)
class Known:
    """The ``dualdb_known`` marker's arguments (``plugin.legs.validate_known`` checks them)."""

    reason: str
    category: str | None = None
    xfail: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "category": self.category, "xfail": self.xfail}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Known | None:
        if not data:
            return None
        return cls(str(data.get("reason") or ""), data.get("category"), bool(data.get("xfail")))


@dataclass(slots=True)
class BackendInfo:
    """What the run says about one engine, in ``dualdb.json``'s ``backends``
    (``engines.provision.Backend.describe``; redirect mode's engines describe themselves)."""

    version: str | None
    url: str | None  # masked
    collation: str | None = None  # PostgreSQL: the collation the databases got
    schema: str | None = None  # "reused <where>" or "built <where>": where the run's schema came from
    redirect: str | None = None  # redirect mode: what the leg's engines are

    def details(self) -> dict[str, str]:
        """The fields besides ``version`` and ``url`` that are set, in the JSON's order."""
        out = {}
        for name in ("collation", "schema", "redirect"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "url": self.url, **self.details()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BackendInfo | None:
        if not isinstance(data, dict):
            return None
        get = data.get
        return cls(version=get("version"), url=get("url"), collation=get("collation"), schema=get("schema"),
                   redirect=get("redirect"))


@dataclass(slots=True)
class LegPayload:
    """One leg of one test as it travels to the collector (``plugin.legs.leg_payload``).

    On xdist it crosses from worker to controller as ``to_dict()`` (execnet
    carries plain data only) and is read back with ``from_dict``.
    """

    nodeid: str  # without the backend
    backend: str
    outcome: str = "passed"  # passed | failed | error | skipped
    error: ErrorRecord | None = None
    observations: list[Observation] = field(default_factory=list)  # as the test observed
    statements: list[CapturedStatement] = field(default_factory=list)
    started: str | None = None  # ISO time the leg started (relative clock comparisons)
    dropped_statements: int = 0
    notes: list[str] = field(default_factory=list)
    harness_notes: list[str] = field(default_factory=list)
    known: Known | None = None  # the dualdb_known marker's arguments
    backend_info: BackendInfo | None = None
    warnings: list[str] = field(default_factory=list)
    schema_findings: list[SchemaFinding] = field(default_factory=list)
    compared: bool = False  # the pair was compared where it completed (xdist worker or serial run)
    agreed: bool = False  # ... and was ``same``: its statements were freed, the verdict stands
    paired_kind: str | None = None  # a ``dual`` test compared the engines itself: the kind of verdict ...
    paired_difference: Difference | None = None  # ... and its first difference
    database_test: bool = True  # redirect mode: the leg touched a database

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid, "backend": self.backend, "outcome": self.outcome,
            "error": None if self.error is None else self.error.to_dict(),
            "observations": [o.to_dict() for o in self.observations],
            "statements": [s.to_dict() for s in self.statements],
            "started": self.started, "dropped_statements": self.dropped_statements,
            "notes": self.notes, "harness_notes": self.harness_notes,
            "known": None if self.known is None else self.known.to_dict(),
            "backend_info": None if self.backend_info is None else self.backend_info.to_dict(),
            "warnings": self.warnings,
            "schema_findings": [f.to_dict() for f in self.schema_findings],
            "compared": self.compared, "agreed": self.agreed, "paired_kind": self.paired_kind,
            "paired_difference": None if self.paired_difference is None else self.paired_difference.to_dict(),
            "database_test": self.database_test,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LegPayload:
        get = data.get
        return cls(
            nodeid=data["nodeid"], backend=data["backend"], outcome=get("outcome") or "passed",
            error=ErrorRecord.from_dict(get("error")),
            observations=[Observation.from_dict(o) for o in get("observations") or ()],
            statements=[CapturedStatement.from_dict(s) for s in get("statements") or ()],
            started=get("started"), dropped_statements=get("dropped_statements") or 0,
            notes=list(get("notes") or ()), harness_notes=list(get("harness_notes") or ()),
            known=Known.from_dict(get("known")),
            backend_info=BackendInfo.from_dict(get("backend_info")),
            warnings=list(get("warnings") or ()),
            schema_findings=[SchemaFinding.from_dict(f) for f in get("schema_findings") or ()],
            compared=bool(get("compared")), agreed=bool(get("agreed")), paired_kind=get("paired_kind"),
            paired_difference=Difference.from_dict(get("paired_difference")),
            database_test=get("database_test", True) is not False,
        )


# -- constructors ---------------------------------------------------------------------------


def error_record(exc: BaseException, message: str | None = None) -> ErrorRecord:
    """An exception as a record: the one place exceptions become ``{type, message, code}``."""
    code = getattr(exc, "sqlstate", None) or getattr(exc, "sqlite_errorname", None)
    return ErrorRecord(type(exc).__name__, first_line(str(exc)) if message is None else message,
                       str(code) if code else None)


def error_message(exc: BaseException) -> str:
    """What an exception says, as the report shows it: the driver's first line when SQLAlchemy
    wrapped a driver error (``exc.orig``), without SQLAlchemy's "background" link."""
    orig = getattr(exc, "orig", None)
    message = first_line(str(orig if orig is not None else exc))
    return re.sub(r"\(Background on this error at: [^)]*\)", "", message).strip()


def first_line(text: str) -> str:
    """The first non-blank line of an error message (drivers append context lines)."""
    for line in str(text).strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
