"""Assemble a ``Report`` from the legs the run collected.

Input is one ``LegPayload`` per leg (on the xdist controller, as read back from
what the workers sent), so the same code builds the report in a serial run and
on the controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from dualdb.compare import compare_legs, evidence, leg_view, pair_verdict, verdict_notes
from dualdb.explain import explain_entry
from dualdb.records import BackendInfo, Difference, ErrorRecord, Explanation, LegPayload, RerunSummary
from dualdb.report.model import BACKENDS, Leg, Report, TestEntry


def build_report(
    legs_by_test: Mapping[str, Mapping[str, LegPayload]],
    backends: dict[str, BackendInfo],
    warnings: list[str],
    reruns: dict[str, dict[str, list[LegPayload]]] | None = None,
) -> Report:
    """One ``TestEntry`` per test that ran on both backends, in the order tests first ran."""
    report = Report(backends=backends, warnings=list(dict.fromkeys(warnings)))
    for nodeid, legs in legs_by_test.items():
        if not all(name in legs for name in BACKENDS):
            continue
        report.tests.append(build_entry(nodeid, legs, (reruns or {}).get(nodeid)))
    return report


def rerun_summary(legs: Mapping[str, LegPayload], reruns: dict[str, list[LegPayload]] | None) -> RerunSummary | None:
    """What running a diverged test again showed.

    ``nondeterministic`` names each engine whose own result changed between
    runs (an ORDER BY over ties, a race); ``reproduced`` is whether every
    re-run diverged again. A divergence that does not reproduce is not the
    engines' difference but one engine's (or the test's) nondeterminism.
    """
    if not reruns or not all(reruns.get(name) for name in BACKENDS):
        return None
    runs = min(len(reruns[name]) for name in BACKENDS)
    changed = []
    for name in BACKENDS:
        first = leg_view(legs[name])
        if any(compare_legs(first, leg_view(again), (name, name + "-rerun")).verdict == "diverged"
               for again in reruns[name][:runs]):
            changed.append(name)
    reproduced = all(
        compare_legs(leg_view(reruns[BACKENDS[0]][i]), leg_view(reruns[BACKENDS[1]][i]), BACKENDS).verdict == "diverged"
        for i in range(runs)
    )
    return RerunSummary(runs, reproduced, changed)


def build_entry(nodeid: str, legs: Mapping[str, LegPayload], reruns: dict[str, list[LegPayload]] | None = None) -> TestEntry:
    verdict = pair_verdict(legs, BACKENDS)
    first = verdict.first_difference
    if verdict.verdict == "failed_both":
        first = evidence(leg_view(legs[BACKENDS[0]]), leg_view(legs[BACKENDS[1]]), BACKENDS)
    entry = TestEntry(
        nodeid=nodeid,
        verdict=verdict.verdict,
        kind=verdict.kind,
        legs=_legs(legs),
        first_difference=first,
    )
    entry.harness_notes = verdict_notes(legs, verdict)
    known = legs[BACKENDS[0]].known or legs[BACKENDS[1]].known
    if entry.verdict == "diverged":
        found = explain_entry(entry)
        entry.category, entry.explanation = found.category, _explanation(found)
        entry.differences = explained_differences(entry, verdict.differences or [first], found)
        entry.rerun = rerun_summary(legs, reruns)
        if known:
            entry.verdict = "known"
            entry.known_reason = known.reason
            entry.category = known.category or entry.category
    return entry


def explained_differences(entry: TestEntry, differences: list[Difference], primary: Any) -> list[Difference]:
    """Every independent difference with its own category and explanation, the primary first.

    Each secondary difference is explained as if it were the test's only one
    (a value difference at its statement); differences with the same root
    cause — the same rule — collapse into the first, which counts its ``repeats``.
    """
    out: list[Difference] = []
    by_rule: dict[str, Difference] = {}
    for position, diff in enumerate(differences):
        if diff is None:
            continue
        if position == 0:
            found = primary
        else:
            view = TestEntry(nodeid=entry.nodeid, verdict=entry.verdict, kind="value", legs=entry.legs,
                             first_difference=diff, harness_notes=entry.harness_notes)
            found = explain_entry(view)
        key = found.rule if not found.rule.startswith("fallback-") else f"{found.rule}|{_statement_key(diff)}"
        if key in by_rule:
            by_rule[key].repeats += 1
            continue
        item = replace(diff, statement=None, category=found.category, explanation=_explanation(found))
        by_rule[key] = item
        out.append(item)
    return out


def _explanation(found: Any) -> Explanation:
    return Explanation(title=found.title, why=found.why, fix=found.fix, rule=found.rule)


def _statement_key(diff: Difference) -> str:
    sql = diff.sql or {}
    return str(sql.get(BACKENDS[0]) if isinstance(sql, dict) else sql)


def _legs(legs: Mapping[str, LegPayload]) -> Mapping[str, Leg]:
    """The entry's legs. Legs with nothing but an outcome (most legs of a long run: an agreeing
    pair's statements are freed) are shared, read-only records, so a 10,000-test report holds
    10,000 small entries and not 20,000 legs with their empty lists."""
    if any(_has_detail(legs[name]) for name in BACKENDS):
        return {name: _leg(legs[name]) for name in BACKENDS}
    outcomes = tuple(legs[name].outcome for name in BACKENDS)
    shared = _BARE_PAIRS.get(outcomes)
    if shared is None:
        shared = _BARE_PAIRS[outcomes] = MappingProxyType(
            {name: Leg(outcome=outcome) for name, outcome in zip(BACKENDS, outcomes)}
        )
    return shared


_BARE_PAIRS: dict[tuple[str, ...], Mapping[str, Leg]] = {}


def _has_detail(raw: LegPayload) -> bool:
    return bool(raw.error or raw.observations or raw.statements or raw.notes)


def _leg(raw: LegPayload) -> Leg:
    error = raw.error
    return Leg(
        outcome=raw.outcome,
        error=ErrorRecord(error.type, error.message) if error else None,
        observations=list(raw.observations),
        statements=list(raw.statements),
        notes=list(raw.notes),
    )
