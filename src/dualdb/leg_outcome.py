"""Turn pytest's per-phase reports into one leg outcome, and a leg into its payload.

The payload is plain data (JSON-able) because on xdist it travels from the
worker to the controller attached to the teardown report.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .capture import LegRecorder, first_line


def apply_phase(leg: LegRecorder, report: pytest.TestReport, call: pytest.CallInfo) -> None:
    """Fold one phase (setup/call/teardown) into the leg's outcome; the first problem wins."""
    if getattr(leg, "outcome", None) not in (None, "passed"):
        return
    if report.skipped and hasattr(report, "wasxfail"):
        leg.outcome = "failed"  # an expected failure still failed
    elif report.skipped:
        leg.outcome = "skipped"
    elif report.failed:
        leg.outcome = "failed" if report.when == "call" else "error"
    else:
        leg.outcome = "passed"
        return
    if call.excinfo is not None and leg.outcome != "skipped":
        leg.error = error_info(call.excinfo.value)


def error_info(exc: BaseException) -> dict[str, str]:
    """Exception class name and the first line of its message, with dualdb notes appended."""
    orig = getattr(exc, "orig", None)
    message = first_line(str(orig if orig is not None else exc)) or ""
    message = re.sub(r"\(Background on this error at: [^)]*\)", "", message).strip()
    notes = [n for n in getattr(exc, "__notes__", ()) if str(n).startswith("dualdb:")]
    if notes:
        message = f"{message} [{'; '.join(notes)}]"
    name = type(exc).__name__  # sqlalchemy.exc.IntegrityError on both engines, not UniqueViolation
    return {"type": name, "message": message}


def base_nodeid(nodeid: str, backend: str) -> str:
    """``tests/t.py::test_x[1-sqlite]`` -> ``tests/t.py::test_x[1]``; the id the two legs share."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    head, _, params = nodeid[:-1].partition("[")
    parts = params.split("-")
    if backend in parts:
        idx = len(parts) - 1 - parts[::-1].index(backend)
        parts.pop(idx)
    remaining = "-".join(parts)
    return f"{head}[{remaining}]" if remaining else head


def leg_payload(item: pytest.Item, leg: LegRecorder, state: Any) -> dict[str, Any]:
    known = item.get_closest_marker("dualdb_known")
    payload: dict[str, Any] = {
        "nodeid": base_nodeid(item.nodeid, leg.backend),
        "backend": leg.backend,
        "outcome": getattr(leg, "outcome", "passed"),
        "error": getattr(leg, "error", None),
        "observations": leg.observations,
        "statements": leg.statement_dicts(),
        "dropped_statements": leg.dropped_statements,
        "notes": list(leg.notes),
        "harness_notes": list(getattr(leg, "harness_notes", [])),
        "started": leg.started.isoformat(),
        "known": validate_known(*known.args, **known.kwargs) if known else None,
        "backend_info": state.backend_info.get(leg.backend),
        "warnings": list(state.warnings),
    }
    return payload


def validate_known(reason: str, category: str | None = None) -> dict[str, Any]:
    """The ``dualdb_known`` marker's signature: wrong arguments fail like a wrong call."""
    from .report.model import CATEGORIES

    if category is not None and category not in CATEGORIES:
        raise pytest.UsageError(
            f"dualdb_known(category={category!r}): unknown category; use one of {', '.join(CATEGORIES)}"
        )
    return {"reason": str(reason), "category": category}
