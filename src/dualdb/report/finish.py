"""End of run: build the report, write its files, and say what blocks ``--dualdb-strict``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dualdb.adoption import missing_table_line
from dualdb.records import LegPayload, SchemaFinding
from dualdb.report.baseline import KNOWN_SCHEMA_INI, acknowledge_schema, apply_baseline, known_schema_lines, load_baseline
from dualdb.report.build import build_report
from dualdb.report.model import Report, TestEntry
from dualdb.report.files import write_reports
from dualdb.report.terminal import summary_lines
from dualdb.run.state import RunState


@dataclass
class ReportOutcome:
    report: Report
    lines: list[str] = field(default_factory=list)
    blocking: list[TestEntry] = field(default_factory=list)
    blocking_schema: list[SchemaFinding] = field(default_factory=list)  # findings nothing acknowledged
    unexpected: list[TestEntry] = field(default_factory=list)  # dualdb_known(xfail=True) tests failing on both
    unexpected_lines: list[str] = field(default_factory=list)

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
                lines.append(f"  {finding.id}  ({_finding_summary(finding)})")
        return lines


def _finding_summary(finding: SchemaFinding) -> str:
    what = "failed on" if finding.kind == "migration" else "on"
    revision = f", revision {finding.revision}" if finding.revision and finding.kind != "migration" else ""
    return f"{finding.kind} {what} {finding.backend}: {finding.name}{revision}"


FAILING = ("failed", "error")


def known_marker_check(
    report: Report, legs_by_test: Mapping[str, Mapping[str, LegPayload]]
) -> tuple[list[str], list[TestEntry], list[str]]:
    """What the ``dualdb_known`` markers say against what happened.

    Returns warnings (a marked test whose engines agree now: the marker is
    stale; an ``xfail=True`` test passing on both), the ``xfail=True`` tests
    that failed on both engines (the marker expects one to pass: a real
    failure, even where both legs were xfailed in different xdist workers),
    and one line per such test.
    """
    warnings, unexpected, lines = [], [], []
    for entry in report.tests:
        legs = legs_by_test.get(entry.nodeid) or {}
        known = next((leg.known for leg in legs.values() if leg.known), None)
        if not known:
            continue
        outcomes = [leg.outcome for leg in legs.values()]
        if entry.verdict == "same":
            warnings.append(
                f"known divergence no longer diverges: {entry.nodeid} (both engines pass and agree): "
                "remove the dualdb_known marker"
            )
        elif known.xfail and outcomes and all(o in FAILING for o in outcomes):
            unexpected.append(entry)
            lines.append(
                f"dualdb_known(xfail=True): {entry.nodeid} failed on both engines; the marker expects one to "
                "pass, so this is a new failure, not the known divergence"
            )
        elif known.xfail and outcomes and all(o == "passed" for o in outcomes):
            warnings.append(
                f"dualdb_known(xfail=True): {entry.nodeid} passes on both engines now (its values still differ): "
                "remove xfail=True"
            )
    return warnings, unexpected, lines


def finish_report(state: RunState) -> ReportOutcome:
    settings = state.settings
    report = build_report(state.legs, dict(state.backend_info), state.warnings, state.reruns)
    report.schema_findings = state.all_schema_findings()
    marker_warnings, unexpected, unexpected_lines = known_marker_check(report, state.legs)
    report.warnings.extend(w for w in marker_warnings if w not in report.warnings)
    baseline = load_baseline(settings.baseline) if settings.baseline is not None else None
    if baseline is not None:
        apply_baseline(report, baseline.tests, str(settings.baseline))
    blocking_schema, stale = acknowledge_schema(
        report, known_schema_lines(settings.known_schema), baseline.schema if baseline is not None else None
    )
    out_dir = settings.report_dir
    json_path = out_dir / "dualdb.json"
    report.write_json(json_path)  # test by test: no whole document in memory
    written = write_reports(report, out_dir)
    # a divergence that did not reproduce on re-run is one engine's nondeterminism: reported, not blocking
    blocking = [t for t in report.tests if t.verdict == "diverged" and t.baseline != "accepted" and t.reproduced]
    lines = summary_lines(report, ", ".join(str(path) for path in (json_path, *written.values())))
    missing = missing_table_line(report.tests, schema_configured=bool(settings.metadata_specs or settings.alembic_config))
    if missing:
        lines.insert(-1, missing)
    for key in stale[KNOWN_SCHEMA_INI]:
        lines.insert(-1, f"{KNOWN_SCHEMA_INI}: {key} matches no schema finding of this run: remove it")
    if stale["baseline"]:
        lines.insert(-1, f"baseline: {len(stale['baseline'])} schema finding(s) no longer found: {', '.join(stale['baseline'])}")
    return ReportOutcome(
        report=report,
        lines=lines,
        blocking=blocking,
        blocking_schema=blocking_schema,
        unexpected=unexpected,
        unexpected_lines=unexpected_lines,
    )
