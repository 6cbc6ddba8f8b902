"""End of run: build the report, write its files, and say what blocks ``--dualdb-strict``."""

from __future__ import annotations

from dataclasses import dataclass, field

from .baseline import apply_baseline, load_baseline
from .report.model import Report, TestEntry
from .report.render import write_reports
from .report.terminal import summary_lines
from .runstate import RunState


@dataclass
class ReportOutcome:
    report: Report
    lines: list[str] = field(default_factory=list)
    blocking: list[TestEntry] = field(default_factory=list)


def finish_report(state: RunState) -> ReportOutcome:
    report = state.build_report()
    if state.settings.baseline is not None:
        apply_baseline(report, load_baseline(state.settings.baseline), str(state.settings.baseline))
    out_dir = state.settings.report_dir
    json_path = out_dir / "dualdb.json"
    data = report.to_dict()
    report.write_json(json_path, data)
    write_reports(data, out_dir)
    blocking = [t for t in report.tests if t.verdict == "diverged" and t.baseline != "accepted"]
    return ReportOutcome(report=report, lines=summary_lines(report, str(json_path)), blocking=blocking)
