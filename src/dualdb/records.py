"""The data that travels through a run, declared once: what capture records, what a leg
sends, what comparison finds, what the report keeps.

A leaf module — it imports nothing else of the package — so every layer can
name these types. They are ``TypedDict``s because the data is plain, JSON-able
and travels as it is: from an xdist worker to the controller, into
``dualdb.json`` (schema ``dualdb-report/1``, whose readers index these keys),
and back through ``dualdb report FILE.json``. Each record has one constructor
here; producers build records with it instead of writing dict literals, so a
key is spelled in one place.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

try:  # Python 3.11+
    from typing import NotRequired, Required
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import NotRequired, Required

DifferenceSource = Literal["outcome", "observation", "statement", "paired", "hypothesis"]


class ErrorRecord(TypedDict):
    """An exception: class name, first message line, the engine's error code when it has one
    (PostgreSQL's SQLSTATE, SQLite's extended result code name)."""

    type: str
    message: str
    code: NotRequired[str]


class CapturedStatement(TypedDict, total=False):
    """One statement of one leg, as capture records it (``capture.StatementRecord.to_dict``).

    ``sql``, ``params``, ``rows`` and ``error`` are always present; the rest only
    when known (a leg keeps thousands of these, so absent keys cost nothing).
    """

    sql: Required[str]
    params: Required[Any]  # normalised, in bind-name order (or placeholder order)
    rows: Required[list[list[Any]] | None]  # the rows the application fetched, normalised
    error: Required[ErrorRecord | None]
    columns: list[str]
    fetched: int  # rows fetched, when more than ``rows`` kept
    rowcount: int
    lastrowid: int  # SQLite's id of a new row, where PostgreSQL used RETURNING
    digest: str  # rows past the kept ones: hash in order ...
    set_digest: str  # ... and as a multiset
    digested_rows: int
    ordered: bool  # a top-level ORDER BY whose keys are not all selected
    order_keys: list[int]  # result positions of the ORDER BY keys (implies ordered)
    order_by: list[list[Any]]  # [[type name, nullable], ...] of the ORDER BY keys
    param_keys: list[int]  # positions of parameters bound to a key (id, user_id ...)


class Difference(TypedDict, total=False):
    """One place where the two legs of a test parted.

    ``values`` maps each backend to what it gave there; ``shape`` names the
    kind of difference (``compare.classify``). In a report entry's
    ``differences`` each also carries its ``category`` and ``explanation``.
    """

    source: Required[DifferenceSource]
    index: int | None  # statement position in the SQLite leg (or observation position)
    index_other: int  # statement position in the PostgreSQL leg
    label: str | None  # the observation's label
    sql: dict[str, str] | None  # backend -> SQL
    params: Any
    columns: list[str] | None
    ordered: bool
    order_by: list[list[Any]] | None
    values: Required[dict[str, Any]]
    shape: Required[str]
    note: str | None
    statement: Difference  # the statement difference behind an outcome or observation
    category: str
    explanation: dict[str, str | None]
    repeats: int  # copies of this root cause collapsed into it
    kind: str  # paired/hypothesis differences: the kind of verdict they make


class SchemaFinding(TypedDict, total=False):
    """A migration that failed on one engine only, or schema drift on one engine."""

    id: Required[str]  # "migration:<backend>:<revision>" or "drift:<backend>:<what>"
    kind: Required[str]  # "migration" | "drift"
    backend: Required[str]
    name: str
    revision: str | None
    error: str | None
    category: str | None
    explanation: dict[str, str | None] | None
    acknowledged: str | None  # what acknowledged it: the ini key or the baseline file


class BaselineInfo(TypedDict, total=False):
    """What ``--dualdb-baseline`` accepted, in ``dualdb.json``'s ``baseline``."""

    file: Required[str]
    new: list[str]
    accepted: list[str]
    disappeared: list[str]
    schema_new: list[str]
    schema_accepted: list[str]
    schema_disappeared: list[str]


class LegPayload(TypedDict, total=False):
    """One leg of one test as it travels to the collector (``run.legs.leg_payload``)."""

    nodeid: Required[str]  # without the backend
    backend: Required[str]
    outcome: Required[str]  # passed | failed | error | skipped
    error: Required[ErrorRecord | None]
    observations: Required[list[dict[str, Any]]]
    statements: Required[list[CapturedStatement]]
    started: str  # ISO time the leg started (relative clock comparisons)
    dropped_statements: int
    notes: list[str]
    harness_notes: list[str]
    known: dict[str, Any] | None  # the dualdb_known marker's arguments
    backend_info: dict[str, Any] | None
    warnings: list[str]
    schema_findings: list[SchemaFinding]
    compared: bool  # the pair was compared where it completed (xdist worker or serial run)
    agreed: bool  # ... and was ``same``: its statements were freed, the verdict stands
    paired_difference: dict[str, Any]  # a ``dual`` test compared the engines itself


# -- constructors ---------------------------------------------------------------------------


def error_record(exc: BaseException, message: str | None = None) -> ErrorRecord:
    """An exception as a record: the one place exceptions become ``{type, message, code}``."""
    code = getattr(exc, "sqlstate", None) or getattr(exc, "sqlite_errorname", None)
    record: ErrorRecord = {"type": type(exc).__name__, "message": first_line(str(exc)) if message is None else message}
    if code:
        record["code"] = str(code)
    return record


def first_line(text: str) -> str:
    """The first non-blank line of an error message (drivers append context lines)."""
    for line in str(text).strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def difference(source: DifferenceSource, values: dict[str, Any], shape: str, **fields: Any) -> Difference:
    """A ``Difference``: the fields every reader indexes, plus what this source knows."""
    record: Difference = {"source": source, "index": None, "label": None, "sql": None,
                          "values": values, "shape": shape, "note": None}
    record.update(fields)  # type: ignore[typeddict-item]
    return record
