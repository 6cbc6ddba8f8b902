"""The report's data model: plain dataclasses that serialise to ``dualdb-report/1``.

Everything that renders a report (terminal, Markdown, HTML, ``dualdb report``)
works from these objects or from the JSON they produce, never from pytest
objects, so a saved ``dualdb.json`` re-renders exactly like a live run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dualdb.records import BaselineInfo, CapturedStatement, Difference, SchemaFinding

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


@dataclass
class ErrorInfo:
    """The exception a leg ended with: its class name and first message line."""

    type: str
    message: str


@dataclass
class Leg:
    """What one backend saw while running one test."""

    outcome: str = "passed"
    error: ErrorInfo | None = None
    observations: list[dict[str, Any]] = field(default_factory=list)
    statements: list[CapturedStatement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    """Why the engines differ and how to fix the application code."""

    title: str
    why: str
    fix: str
    rule: str | None = None


@dataclass
class TestEntry:
    """One test (both legs) in the report; ``nodeid`` has no ``[backend]`` part."""

    __test__ = False  # not a pytest test class

    nodeid: str
    verdict: str
    kind: str | None = None
    category: str | None = None
    legs: dict[str, Leg] = field(default_factory=dict)
    first_difference: Difference | None = None
    explanation: Explanation | None = None
    known_reason: str | None = None
    harness_notes: list[str] = field(default_factory=list)
    baseline: str | None = None  # "new" | "accepted" with --dualdb-baseline
    # every independent difference (the primary first, equal to ``first_difference``), each with
    # its own "category" and "explanation"; copies of one root cause are collapsed ("repeats")
    differences: list[Difference] = field(default_factory=list)
    # a diverged test run again: {"runs": n, "reproduced": bool, "nondeterministic": [backend, ...]}
    rerun: dict[str, Any] | None = None

    @property
    def reproduced(self) -> bool:
        """Diverged again when run again (or never re-run)."""
        return self.rerun is None or bool(self.rerun.get("reproduced"))


def _entry_dict(t: TestEntry) -> dict[str, Any]:
    legs = {}
    for name, leg in t.legs.items():
        err = leg.error
        legs[name] = {
            "outcome": leg.outcome,
            "error": None if err is None else {"type": err.type, "message": err.message},
            "observations": list(leg.observations),
            "statements": list(leg.statements),
            "notes": list(leg.notes),
        }
    x = t.explanation
    return {
        "nodeid": t.nodeid,
        "verdict": t.verdict,
        "kind": t.kind,
        "category": t.category,
        "legs": legs,
        "first_difference": t.first_difference,
        "explanation": None if x is None else {"title": x.title, "why": x.why, "fix": x.fix, "rule": x.rule},
        "known_reason": t.known_reason,
        "harness_notes": list(t.harness_notes),
        "baseline": t.baseline,
        "differences": list(t.differences),
        "rerun": t.rerun,
    }


@dataclass
class Report:
    """A whole run: the engines used, the counts and one entry per test."""

    backends: dict[str, dict[str, Any]] = field(default_factory=dict)
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
        return {
            "schema": SCHEMA,
            "backends": self.backends,
            "summary": self.summary,
            "warnings": list(self.warnings),
            "schema_findings": list(self.schema_findings),
            "baseline": self.baseline,
            "tests": [_entry_dict(t) for t in self.tests],
        }

    def write_json(self, path: Path, data: dict[str, Any] | None = None) -> None:
        """Write compact JSON (``indent`` would force json's slow pure-Python encoder)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.to_dict() if data is None else data
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
        path.write_text(text + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} report (schema={data.get('schema')!r})")
        tests = []
        for raw in data.get("tests", []):
            legs = {}
            for name, leg in (raw.get("legs") or {}).items():
                err = leg.get("error")
                legs[name] = Leg(
                    outcome=leg.get("outcome", "passed"),
                    error=ErrorInfo(**err) if err else None,
                    observations=list(leg.get("observations") or []),
                    statements=list(leg.get("statements") or []),
                    notes=list(leg.get("notes") or []),
                )
            expl = raw.get("explanation")
            tests.append(
                TestEntry(
                    nodeid=raw["nodeid"],
                    verdict=raw["verdict"],
                    kind=raw.get("kind"),
                    category=raw.get("category"),
                    legs=legs,
                    first_difference=raw.get("first_difference"),
                    explanation=Explanation(**expl) if expl else None,
                    known_reason=raw.get("known_reason"),
                    harness_notes=list(raw.get("harness_notes") or []),
                    baseline=raw.get("baseline"),
                    differences=list(raw.get("differences") or []),
                    rerun=raw.get("rerun"),
                )
            )
        return cls(
            backends=dict(data.get("backends") or {}),
            tests=tests,
            warnings=list(data.get("warnings") or []),
            schema_findings=list(data.get("schema_findings") or []),
            baseline=data.get("baseline"),
        )

    @classmethod
    def read_json(cls, path: Path) -> Report:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
