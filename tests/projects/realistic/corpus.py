"""Reading and scoring the realistic-suites corpus (and the probe catalog) from a ``--dual-db`` run.

Used by ``tests/test_realistic_corpus.py`` (in-process pytester runs: pass an
``ExpectationCollector`` as a plugin) and by ``benchmarks/bench_accuracy.py``
(subprocess runs: ``-p corpus`` with ``$DUALDB_EXPECTATIONS_FILE`` set, so the
module-level hook below dumps the expectations to that file). The plugin under
test never sees the expectations: they are read from the markers by this module
only, after collection.

Two marker styles are understood:

* the corpus: ``@pytest.mark.expect("same")``,
  ``@pytest.mark.expect("diverged", category="types")``, optionally ``needs="linguistic"``;
* the probe catalog: ``@pytest.mark.probe(category=..., expect=..., needs=...)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
APPS = ("shop_api", "flask_blog", "billing_service", "async_tickets", "sales_reports")
DETECTED = ("diverged", "known")


# -- collecting the expectations --------------------------------------------------------


def expectation_of(item: Any) -> dict[str, Any] | None:
    """``{"expect": "same"|"diverged", "category": str|None, "needs": str|None}`` or None."""
    marker = item.get_closest_marker("expect")
    if marker is not None:
        verdict = marker.args[0] if marker.args else marker.kwargs.get("verdict")
        return {"expect": verdict, "category": marker.kwargs.get("category"), "needs": marker.kwargs.get("needs")}
    marker = item.get_closest_marker("probe")
    if marker is not None:
        return {
            "expect": marker.kwargs.get("expect", "same"),
            "category": marker.kwargs.get("category"),
            "needs": marker.kwargs.get("needs"),
        }
    return None


def _collect(items: list[Any]) -> dict[str, dict[str, Any] | None]:
    from dualdb.ids import base_nodeid

    out: dict[str, dict[str, Any] | None] = {}
    for item in items:
        if "dualdb_backend" not in getattr(item, "fixturenames", ()):
            continue  # not a database test: runs once, is never in the report, scores nothing
        backend = getattr(getattr(item, "callspec", None), "params", {}).get("dualdb_backend", "")
        out[base_nodeid(item.nodeid, backend)] = expectation_of(item)
    return out


class ExpectationCollector:
    """A pytest plugin object: after collection, ``expected`` maps base node ids to expectations."""

    def __init__(self) -> None:
        self.expected: dict[str, dict[str, Any] | None] = {}

    def pytest_collection_modifyitems(self, session, config, items) -> None:  # noqa: ANN001
        self.expected.update(_collect(items))


def pytest_collection_modifyitems(session, config, items) -> None:  # noqa: ANN001
    """As a ``-p corpus`` plugin module: dump the expectations to ``$DUALDB_EXPECTATIONS_FILE``."""
    path = os.environ.get("DUALDB_EXPECTATIONS_FILE")
    if path:
        Path(path).write_text(json.dumps(_collect(items)), encoding="utf-8")


# -- scoring a report -------------------------------------------------------------------


def linguistic(report: dict[str, Any]) -> bool:
    return (report.get("backends", {}).get("postgresql", {}).get("collation") or "C") != "C"


def unexplained(entry: dict[str, Any]) -> bool:
    return entry["verdict"] == "diverged" and (not entry.get("explanation") or entry.get("category") in (None, "other"))


@dataclass
class Score:
    tests: int = 0
    expected_divergences: int = 0
    not_applicable: list[str] = field(default_factory=list)  # need a linguistic collation this server lacks
    false_alarms: list[dict[str, Any]] = field(default_factory=list)  # expected same, reported diverged
    missed: list[dict[str, Any]] = field(default_factory=list)  # expected diverged, reported something else
    wrong_category: list[dict[str, Any]] = field(default_factory=list)  # detected, other category than expected
    unexplained_expected: list[dict[str, Any]] = field(default_factory=list)  # detected, no explanation
    unexplained: list[dict[str, Any]] = field(default_factory=list)  # any diverged entry without explanation/category
    other_verdicts: list[dict[str, Any]] = field(default_factory=list)  # expected same, reported failed_both/known/...
    unmarked: list[str] = field(default_factory=list)  # tests without an expectation
    not_reported: list[str] = field(default_factory=list)  # expected, but missing from the report

    @property
    def detected(self) -> int:
        return self.expected_divergences - len(self.missed)

    @property
    def category_agreement(self) -> float | None:
        """Share of the detected expected divergences whose category is the expected one."""
        if not self.detected:
            return None
        return 1 - len(self.wrong_category) / self.detected


def score(report: dict[str, Any], expected: dict[str, dict[str, Any] | None]) -> Score:
    entries = {t["nodeid"]: t for t in report.get("tests", [])}
    ling = linguistic(report)
    result = Score()
    for nodeid, info in expected.items():
        entry = entries.get(nodeid)
        if entry is None:
            result.not_reported.append(nodeid)
            continue
        if info is None or info.get("expect") not in ("same", "diverged"):
            result.unmarked.append(nodeid)
            continue
        if info.get("needs") == "linguistic" and not ling:
            result.not_applicable.append(nodeid)
            continue
        result.tests += 1
        verdict = entry["verdict"]
        if info["expect"] == "same":
            if verdict == "diverged":
                result.false_alarms.append({**entry, "expected": info})
            elif verdict != "same":
                result.other_verdicts.append({**entry, "expected": info})
            continue
        result.expected_divergences += 1
        if verdict not in DETECTED:
            result.missed.append({**entry, "expected": info})
            continue
        if info.get("category") and entry.get("category") != info["category"]:
            result.wrong_category.append({**entry, "expected": info})
        if not entry.get("explanation"):
            result.unexplained_expected.append({**entry, "expected": info})
    result.unexplained = [t for t in entries.values() if unexplained(t)]
    return result


# -- describing an entry ----------------------------------------------------------------


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(entry: dict[str, Any], limit: int = 400) -> str:
    """One paragraph: what the report said about a test (for assertion messages and the benchmark)."""
    expected = entry.get("expected") or {}
    diff = entry.get("first_difference") or {}
    explanation = entry.get("explanation") or {}
    parts = [
        f"{entry['nodeid']}: expected {expected.get('expect')}"
        + (f"/{expected['category']}" if expected.get("category") else ""),
        f"got {entry['verdict']}" + (f" kind={entry['kind']}" if entry.get("kind") else "")
        + f" category={entry.get('category')}",
        f"rule={explanation.get('rule')}" if explanation else "no explanation",
    ]
    if diff:
        where = diff.get("label") or _short(diff.get("sql") or "", 120)
        parts.append(f"first_difference source={diff.get('source')} shape={diff.get('shape')} at {where!s}")
        if diff.get("values") is not None:
            parts.append("values=" + _short(diff["values"], limit))
        if diff.get("params") is not None:
            parts.append("params=" + _short(diff["params"], limit // 2))
    legs = entry.get("legs") or {}
    outcomes = {name: (leg.get("outcome"), (leg.get("error") or {}).get("type")) for name, leg in legs.items()}
    parts.append(f"legs={outcomes}")
    return "\n    ".join(parts)
