"""The end-of-run summary printed in the terminal, with tabulate."""

from __future__ import annotations

from tabulate import tabulate

from dualdb.report.model import BACKENDS, Leg, Report

MAX_CELL = 60


def _cell(text: str, limit: int = MAX_CELL) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def leg_summary(leg: Leg | None) -> str:
    if leg is None:
        return "-"
    if leg.error is None:
        return leg.outcome
    return _cell(f"{leg.outcome}: {leg.error.type}: {leg.error.message}")


def summary_lines(report: Report, report_path: str | None = None) -> list[str]:
    """Counts, then one row per diverged test (and known ones, marked)."""
    s = report.summary
    lines = [
        tabulate(
            [[s["tests"], s["same"], s["diverged"], s["known"], s["failed_both"], s["skipped"]]],
            headers=["tests", "same", "diverged", "known", "failed_both", "skipped"],
            tablefmt="simple",
        )
    ]
    rows = []
    for entry in report.tests:
        if entry.verdict not in ("diverged", "known"):
            continue
        name = entry.nodeid + (" (known)" if entry.verdict == "known" else "")
        if entry.baseline == "accepted":
            name += " (baseline)"
        if not entry.reproduced:
            name += " (not reproduced)"
        rows.append(
            [
                _cell(name, 70),
                entry.kind or "-",
                entry.category or "-",
                leg_summary(entry.legs.get(BACKENDS[0])),
                leg_summary(entry.legs.get(BACKENDS[1])),
            ]
        )
    if rows:
        lines.append("")
        lines.append(tabulate(rows, headers=["test", "kind", "category", "sqlite", "postgresql"], tablefmt="simple"))
    for entry in report.tests:
        if entry.verdict == "diverged" and not entry.reproduced:
            changed = ", ".join(entry.rerun.nondeterministic if entry.rerun else []) or "the test itself"
            lines.append(f"not reproduced when run again (nondeterministic: {changed}; not counted by "
                         f"--dualdb-strict): {entry.nodeid}")
    if report.baseline is not None:
        b = report.baseline
        lines.append(
            f"baseline {b.file}: {len(b.new)} new, {len(b.accepted)} accepted, "
            f"{len(b.disappeared)} no longer diverge"
        )
        for nodeid in b.disappeared:
            lines.append(f"  no longer diverges: {nodeid}")
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    for finding in report.schema_findings:
        acknowledged = f" [acknowledged: {finding.acknowledged}]" if finding.acknowledged else ""
        lines.append(
            f"schema: {finding.backend}: {finding.kind} {finding.name}: {finding.error}"
            + acknowledged
        )
    if report_path:
        lines.append(f"report: {report_path}")
    return lines
