"""Turn pytest's per-phase reports into one leg outcome, and a leg into its payload.

The payload is plain data (JSON-able) because on xdist it travels from the
worker to the controller attached to the teardown report.
"""

from __future__ import annotations

from typing import Any

import pytest

from dualdb.config import BACKEND_NAMES
from dualdb.ids import base_nodeid

from dualdb.capture.recorder import LegRecorder
from dualdb.harness_notes import ABORTED_NOTE
from dualdb.records import ErrorRecord, Known, LegPayload, error_message
from dualdb.plugin.stash import PAIRED_OUTCOME_KEY




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
        if "current transaction is aborted" in leg.error.message:
            leg.note_harness(ABORTED_NOTE)


def error_info(exc: BaseException) -> ErrorRecord:
    """Exception class name and the first line of its message, with dualdb notes appended."""
    message = error_message(exc)
    notes = [n for n in getattr(exc, "__notes__", ()) if str(n).startswith("dualdb:")]
    if notes:
        message = f"{message} [{'; '.join(notes)}]"
    # sqlalchemy.exc.IntegrityError on both engines, not UniqueViolation; the code is on the statement
    return ErrorRecord(type=type(exc).__name__, message=message)


def leg_payload(item: pytest.Item, leg: LegRecorder, state: Any) -> LegPayload:
    return LegPayload(
        nodeid=base_nodeid(item.nodeid, leg.backend),
        backend=leg.backend,
        outcome=getattr(leg, "outcome", "passed"),
        error=getattr(leg, "error", None),
        observations=leg.observations,
        statements=leg.statement_records(),
        dropped_statements=leg.dropped_statements,
        notes=list(leg.notes),
        harness_notes=list(getattr(leg, "harness_notes", [])),
        started=leg.started.isoformat(),
        known=known_marker(item),
        **state.payload_context(leg.backend),
    )


def validate_known(reason: str, category: str | None = None, xfail: bool = False) -> Known:
    """The ``dualdb_known`` marker's signature: wrong arguments fail like a wrong call."""
    from dualdb.report.model import CATEGORIES

    if category is not None and category not in CATEGORIES:
        raise pytest.UsageError(
            f"dualdb_known(category={category!r}): unknown category; use one of {', '.join(CATEGORIES)}"
        )
    if not isinstance(xfail, bool):
        raise TypeError(f"xfail must be True or False, got {xfail!r}")
    return Known(str(reason), category, xfail)


def known_marker(item: pytest.Item) -> Known | None:
    """The test's validated ``dualdb_known`` arguments, or None when it has no marker."""
    known = item.get_closest_marker("dualdb_known")
    return validate_known(*known.args, **known.kwargs) if known else None


# -- dualdb_known(xfail=True) ---------------------------------------------------------


def expect_known_failure(item: pytest.Item, leg: LegRecorder, report: pytest.TestReport, finished: dict[str, str]) -> None:
    """``dualdb_known(..., xfail=True)``: the leg that fails is the expected failure.

    Like pytest's own xfail (``_pytest/skipping.py``), a failing phase's report
    becomes ``skipped`` with ``wasxfail`` (pytest shows and counts it as xfailed),
    and a passing call phase with ``wasxfail`` is an xpass, never strict. Which leg
    fails isn't known in advance, so it is decided per leg, with the other leg's
    outcome when it already finished in this process (``finished``: test id ->
    outcome of the first leg to finish):

    * this leg fails, the other passed or hasn't run yet: xfailed;
    * this leg fails and the other failed too: a real failure, with a section
      saying why (both engines failing is a new bug, not the known divergence);
    * this leg passes and the other passed: xpassed (the divergence may be gone).

    Call it after ``apply_phase`` (the leg's own outcome stays ``failed``, so the
    report still compares the real outcomes). ``--runxfail`` turns it off, and a
    report pytest's own xfail already decided is left alone. Legs whose sibling
    ran in another process (xdist without the pairing scheduler) are settled at
    the end of the run from the report (``reporting.known_marker_check``).
    """
    known = known_marker(item)
    if known is None or not known.xfail or item.config.option.runxfail:
        return
    test_id = base_nodeid(item.nodeid, leg.backend)
    other = next(name for name in BACKEND_NAMES if name != leg.backend)
    sibling = finished.get(test_id)
    reason = f"dualdb_known(xfail=True): {known.reason}"
    if hasattr(report, "wasxfail"):
        pass
    elif report.failed:
        if sibling in ("failed", "error"):
            report.sections.append(
                (
                    "dualdb_known(xfail=True)",
                    f"failed on {other} too: the marker expects one engine to pass. Both engines failing is "
                    f"a new failure, not the known divergence ({known.reason})",
                )
            )
        else:
            report.outcome = "skipped"
            report.wasxfail = reason
    elif report.when == "call" and report.passed and sibling == "passed":
        report.wasxfail = f"{reason} (passed on both engines: the expected failure is gone)"
    if report.when == "teardown":
        if sibling is None:
            finished[test_id] = getattr(leg, "outcome", None) or "passed"
        else:
            del finished[test_id]  # both legs done


def paired_phase(item: pytest.Item, paired: Any, report: pytest.TestReport, call: pytest.CallInfo, state: Any) -> None:
    """A test using ``dual``: one report entry whose two legs are the two engines' results.

    Phases fold like a leg's; at teardown the ``Paired`` turns the test's
    outcome (and the ``DivergenceError`` it failed with, if any) into the
    legs, attached to the report as ``report.dualdb_legs`` (as plain data: it may cross to the xdist controller).
    """
    from types import SimpleNamespace

    folded = item.stash.setdefault(PAIRED_OUTCOME_KEY, SimpleNamespace(outcome=None, error=None, exception=None))
    apply_phase(folded, report, call)
    if call.excinfo is not None and folded.exception is None and report.failed:
        folded.exception = call.excinfo.value
    if report.when != "teardown":
        return
    known = known_marker(item)
    legs = paired.report_legs(folded.outcome or "passed", folded.error, folded.exception)
    started = paired.started.isoformat()
    for name, leg in legs.items():
        leg.nodeid, leg.backend, leg.started, leg.known = item.nodeid, name, started, known
        leg.backend_info, leg.warnings = state.backend_info.get(name), list(state.warnings)
    report.dualdb_legs = [leg.to_dict() for leg in legs.values()]


