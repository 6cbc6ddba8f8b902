"""The report's data model: plain dataclasses that serialise to ``dualdb-report/1``.

Everything that renders a report (terminal, Markdown, HTML, ``dualdb report``)
works from these objects, never from pytest objects; ``Report.from_dict`` reads
a saved ``dualdb.json`` into the same objects, so it re-renders exactly like a
live run. The records inside (statements, differences, schema findings,
baseline info) are ``dualdb.records``' types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dualdb.errors import ReportFileError
from dualdb.records import (
    BackendInfo, BaselineInfo, CapturedStatement, Difference, ErrorRecord, Explanation, Observation, RerunSummary,
    SchemaFinding,
)

SCHEMA = "dualdb-report/1"
BACKENDS = ("sqlite", "postgresql")
VERDICTS = ("same", "diverged", "known", "failed_both", "skipped")
KINDS = ("outcome", "error", "value")
CATEGORIES = (
    "json",
    "arrays",
    "collation",
    "isolation",
    "nulls",
    "ordering",
    "types",
    "constraints",
    "numeric",
    "datetime",
    "strings",
    "sql_syntax",
    "transactions",
    "sequences",
    "other",
)
OUTCOMES = ("passed", "failed", "error", "skipped")


ErrorInfo = ErrorRecord  # the exception a leg ended with (its class name and first message line)


@dataclass(slots=True)  # a long run's report holds two per test: no per-instance __dict__
class Leg:
    """What one backend saw while running one test."""

    outcome: str = "passed"
    error: ErrorRecord | None = None
    observations: list[Observation] = field(default_factory=list)
    statements: list[CapturedStatement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TestEntry:
    """One test (both legs) in the report; ``nodeid`` has no ``[backend]`` part."""

    __test__ = False  # not a pytest test class

    nodeid: str
    verdict: str
    kind: str | None = None
    category: str | None = None
    legs: Mapping[str, Leg] = field(default_factory=dict)  # read-only: bare legs are shared (report.build)
    first_difference: Difference | None = None
    explanation: Explanation | None = None
    known_reason: str | None = None
    harness_notes: list[str] = field(default_factory=list)
    baseline: str | None = None  # "new" | "accepted" with --dualdb-baseline
    # every independent difference (the primary first, equal to ``first_difference``), each with
    # its own "category" and "explanation"; copies of one root cause are collapsed ("repeats")
    differences: list[Difference] = field(default_factory=list)
    # a diverged test run again: {"runs": n, "reproduced": bool, "nondeterministic": [backend, ...]}
    rerun: RerunSummary | None = None

    @property
    def reproduced(self) -> bool:
        """Diverged again when run again (or never re-run)."""
        return self.rerun is None or self.rerun.reproduced


def _entry_dict(t: TestEntry) -> dict[str, Any]:
    legs = {}
    for name, leg in t.legs.items():
        err = leg.error
        legs[name] = {
            "outcome": leg.outcome,
            "error": None if err is None else {"type": err.type, "message": err.message},
            "observations": [o.to_dict() for o in leg.observations],
            "statements": [s.to_dict() for s in leg.statements],
            "notes": list(leg.notes),
        }
    x = t.explanation
    return {
        "nodeid": t.nodeid,
        "verdict": t.verdict,
        "kind": t.kind,
        "category": t.category,
        "legs": legs,
        "first_difference": None if t.first_difference is None else t.first_difference.to_dict(),
        "explanation": None if x is None else x.to_dict(),
        "known_reason": t.known_reason,
        "harness_notes": list(t.harness_notes),
        "baseline": t.baseline,
        "differences": [d.to_dict() for d in t.differences],
        "rerun": None if t.rerun is None else t.rerun.to_dict(),
    }


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass
class Report:
    """A whole run: the engines used, the counts and one entry per test."""

    backends: dict[str, BackendInfo | None] = field(default_factory=dict)  # None: a saved report said null
    tests: list[TestEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    schema_findings: list[SchemaFinding] = field(default_factory=list)
    baseline: BaselineInfo | None = None

    @property
    def summary(self) -> dict[str, int]:
        counts = {"tests": len(self.tests)}
        for verdict in VERDICTS:
            counts[verdict] = sum(1 for t in self.tests if t.verdict == verdict)
        return counts

    def diverged(self) -> list[TestEntry]:
        return [t for t in self.tests if t.verdict == "diverged"]

    def to_dict(self) -> dict[str, Any]:
        """The ``dualdb-report/1`` document.

        Built field by field rather than with ``dataclasses.asdict``: the
        captured rows are already JSON-able and never mutated after the run,
        and a deep copy of them costs ~1.5 s for 5,000 tests.
        """
        return {**self._head_dict(), "tests": [_entry_dict(t) for t in self.tests]}

    def _head_dict(self) -> dict[str, Any]:
        """The document without its tests (the last key)."""
        return {
            "schema": SCHEMA,
            "backends": {name: None if info is None else info.to_dict() for name, info in self.backends.items()},
            "summary": self.summary,
            "warnings": list(self.warnings),
            "schema_findings": [f.to_dict() for f in self.schema_findings],
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
        }

    def write_json(self, path: Path, data: dict[str, Any] | None = None) -> None:
        """Write compact JSON (``indent`` would force json's slow pure-Python encoder).

        Without ``data``, test by test: the same text as ``json.dumps(self.to_dict())``
        without holding the whole document (10,000 tests: about 20 MB of dicts, then
        its text) at the end of a run.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_text(_dumps(data) + "\n", encoding="utf-8")
            return
        head = _dumps({**self._head_dict(), "tests": []})
        with path.open("w", encoding="utf-8") as out:
            out.write(head[: -len("[]}")] + "[")
            for position, entry in enumerate(self.tests):
                out.write("," + _dumps(_entry_dict(entry)) if position else _dumps(_entry_dict(entry)))
            out.write("]}\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A ``dualdb-report/1`` document as the typed report (the inverse of :meth:`to_dict`).

        Raises ``ValueError`` (wrong schema), ``KeyError`` (a test without ``nodeid`` or
        ``verdict``) or ``TypeError``/``AttributeError`` (a field of the wrong shape);
        :func:`read_report` turns them into one :class:`ReportFileError` line.
        """
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} report (schema={data.get('schema')!r})")
        tests = []
        for raw in data.get("tests") or []:
            legs = {}
            for name, leg in (raw.get("legs") or {}).items():
                err = ErrorRecord.from_dict(leg.get("error"))
                legs[name] = Leg(
                    outcome=leg.get("outcome", "passed"),
                    error=None if err is None else ErrorRecord(err.type, err.message),
                    observations=[Observation.from_dict(o) for o in leg.get("observations") or [] if isinstance(o, dict)],
                    statements=[CapturedStatement.from_dict(s) for s in leg.get("statements") or []],
                    notes=list(leg.get("notes") or []),
                )
            tests.append(
                TestEntry(
                    nodeid=raw["nodeid"],
                    verdict=raw["verdict"],
                    kind=raw.get("kind"),
                    category=raw.get("category"),
                    legs=legs,
                    first_difference=Difference.from_dict(raw.get("first_difference")),
                    explanation=Explanation.from_dict(raw.get("explanation")),
                    known_reason=raw.get("known_reason"),
                    harness_notes=list(raw.get("harness_notes") or []),
                    baseline=raw.get("baseline"),
                    differences=[d for d in map(Difference.from_dict, raw.get("differences") or []) if d is not None],
                    rerun=RerunSummary.from_dict(raw.get("rerun")),
                )
            )
        return cls(
            backends={name: BackendInfo.from_dict(info) for name, info in (data.get("backends") or {}).items()},
            tests=tests,
            warnings=list(data.get("warnings") or []),
            schema_findings=[SchemaFinding.from_dict(f) for f in data.get("schema_findings") or [] if isinstance(f, dict)],
            baseline=BaselineInfo.from_dict(data.get("baseline")),
        )

    @classmethod
    def from_json(cls, text: str, source: str | Path = "report") -> Report:
        """Parse a saved ``dualdb.json``'s text; ``source`` names it in the error message."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportFileError(
                f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                "expected the dualdb.json written by pytest --dual-db"
            ) from None
        if not isinstance(data, dict) or "schema" not in data:
            raise ReportFileError(f'{source}: not a pytest-dualdb report (no "schema": "{SCHEMA}" field)')
        if data.get("schema") != SCHEMA:
            raise ReportFileError(
                f"{source}: report schema {data.get('schema')!r} is not supported; this version of pytest-dualdb "
                f"reads {SCHEMA!r} (re-run the tests to produce a new report)"
            )
        if not isinstance(data.get("tests", []), list):
            raise ReportFileError(f'{source}: malformed report: "tests" must be a list')
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ReportFileError(f"{source}: malformed {SCHEMA} report ({detail})") from None


def report_path(path: Path) -> Path:
    """The ``dualdb.json`` a path names: the file itself, or the one in a folder."""
    path = Path(path)
    return path / "dualdb.json" if path.is_dir() else path


def read_report(path: Path) -> Report:
    """Read a saved ``dualdb.json`` (or the folder holding one) into the typed :class:`Report`.

    The one reader of saved reports: ``dualdb report``, ``dualdb probes`` and
    ``--dualdb-baseline`` use it. Every problem with the file is one
    :class:`ReportFileError` line naming the file and what to do.
    """
    given = Path(path)
    path = report_path(given)
    if not given.exists():
        raise ReportFileError(f"{given}: no such file (pass the dualdb.json a run wrote, e.g. reports/dualdb.json)")
    if not path.is_file():
        raise ReportFileError(f"{given}: is a folder without a dualdb.json in it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReportFileError(
            f"{path}: not a text file; expected the dualdb.json written by pytest --dual-db"
        ) from None
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return Report.from_json(text, path)
