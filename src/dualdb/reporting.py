"""End of run: build the report, write its files, and say what blocks ``--dualdb-strict``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .baseline import KNOWN_SCHEMA_INI, acknowledge_schema, apply_baseline, known_schema_lines, load_baseline
from .report.model import Report, TestEntry
from .report.render import write_reports
from .report.terminal import summary_lines
from .runstate import RunState


@dataclass
class ReportOutcome:
    report: Report
    lines: list[str] = field(default_factory=list)
    blocking: list[TestEntry] = field(default_factory=list)
    blocking_schema: list[dict[str, Any]] = field(default_factory=list)  # findings nothing acknowledged

    def strict_lines(self) -> list[str]:
        """What fails ``--dualdb-strict``, one line per kind and one per schema finding."""
        lines = []
        if self.blocking:
            lines.append(
                f"--dualdb-strict: {len(self.blocking)} divergence(s) not acknowledged "
                "(mark them @pytest.mark.dualdb_known(reason=...) or fix them)"
            )
        if self.blocking_schema:
            lines.append(
                f"--dualdb-strict: {len(self.blocking_schema)} schema finding(s) not acknowledged "
                f"(fix the migration, or list the revision or the id in the ini key {KNOWN_SCHEMA_INI} "
                "or the --dualdb-baseline file):"
            )
            for finding in self.blocking_schema:
                lines.append(f"  {finding['id']}  ({_finding_summary(finding)})")
        return lines


def _finding_summary(finding: dict[str, Any]) -> str:
    what = "failed on" if finding.get("kind") == "migration" else "on"
    revision = f", revision {finding['revision']}" if finding.get("revision") and finding.get("kind") != "migration" else ""
    return f"{finding.get('kind')} {what} {finding.get('backend')}: {finding.get('name')}{revision}"


def finish_report(state: RunState) -> ReportOutcome:
    settings = state.settings
    report = state.build_report()
    baseline = load_baseline(settings.baseline) if settings.baseline is not None else None
    if baseline is not None:
        apply_baseline(report, baseline.tests, str(settings.baseline))
    blocking_schema, stale = acknowledge_schema(
        report, known_schema_lines(settings.known_schema), baseline.schema if baseline is not None else None
    )
    out_dir = settings.report_dir
    json_path = out_dir / "dualdb.json"
    data = report.to_dict()
    report.write_json(json_path, data)
    write_reports(data, out_dir)
    blocking = [t for t in report.tests if t.verdict == "diverged" and t.baseline != "accepted"]
    lines = summary_lines(report, str(json_path))
    for key in stale[KNOWN_SCHEMA_INI]:
        lines.insert(-1, f"{KNOWN_SCHEMA_INI}: {key} matches no schema finding of this run: remove it")
    if stale["baseline"]:
        lines.insert(-1, f"baseline: {len(stale['baseline'])} schema finding(s) no longer found: {', '.join(stale['baseline'])}")
    return ReportOutcome(report=report, lines=lines, blocking=blocking, blocking_schema=blocking_schema)
