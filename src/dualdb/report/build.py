"""Assemble a ``Report`` from the legs the run collected.

Input is plain data — one dict per leg, as workers send it — so the same code
builds the report in a serial run and on the xdist controller.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..compare import LegView, Verdict, compare_legs, evidence
from ..explain import explain_entry
from .model import BACKENDS, ErrorInfo, Explanation, Leg, Report, TestEntry


def leg_view(leg: dict[str, Any]) -> LegView:
    error = leg.get("error") or {}
    started = leg.get("started")
    return LegView(
        outcome=leg.get("outcome", "passed"),
        error_type=error.get("type"),
        error_message=error.get("message"),
        observations=leg.get("observations"),
        statements=leg.get("statements"),
        started=dt.datetime.fromisoformat(started) if started else None,
    )


def build_report(
    legs_by_test: dict[str, dict[str, dict[str, Any]]],
    backends: dict[str, dict[str, Any]],
    warnings: list[str],
) -> Report:
    """One ``TestEntry`` per test that ran on both backends, in the order tests first ran."""
    report = Report(backends=backends, warnings=list(dict.fromkeys(warnings)))
    for nodeid, legs in legs_by_test.items():
        if not all(name in legs for name in BACKENDS):
            continue
        report.tests.append(build_entry(nodeid, legs))
    return report


def build_entry(nodeid: str, legs: dict[str, dict[str, Any]]) -> TestEntry:
    views = [leg_view(legs[name]) for name in BACKENDS]
    verdict = compare_legs(views[0], views[1], BACKENDS)
    paired = legs[BACKENDS[0]].get("paired_difference")  # the `dual` fixture compared the engines itself
    if paired:
        verdict = Verdict("diverged", paired["kind"], paired["first_difference"])
    first = verdict.first_difference
    if verdict.verdict == "failed_both":
        first = evidence(views[0], views[1], BACKENDS)
    entry = TestEntry(
        nodeid=nodeid,
        verdict=verdict.verdict,
        kind=verdict.kind,
        legs={name: _leg(legs[name]) for name in BACKENDS},
        first_difference=first,
    )
    notes: list[str] = []
    for name in BACKENDS:
        notes.extend(legs[name].get("harness_notes") or [])
    notes.extend(getattr(verdict, "notes", None) or [])
    entry.harness_notes = list(dict.fromkeys(notes))
    known = legs[BACKENDS[0]].get("known") or legs[BACKENDS[1]].get("known")
    if entry.verdict == "diverged":
        found = explain_entry(entry)
        if found is not None:
            entry.category, entry.explanation = found.category, Explanation(
                title=found.title, why=found.why, fix=found.fix, rule=found.rule
            )
        else:
            entry.category = "other"
        if known:
            entry.verdict = "known"
            entry.known_reason = known.get("reason")
            entry.category = known.get("category") or entry.category
    return entry


def _leg(raw: dict[str, Any]) -> Leg:
    error = raw.get("error")
    return Leg(
        outcome=raw.get("outcome", "passed"),
        error=ErrorInfo(type=error["type"], message=error["message"]) if error else None,
        observations=list(raw.get("observations") or []),
        statements=list(raw.get("statements") or []),
        notes=list(raw.get("notes") or []),
    )
