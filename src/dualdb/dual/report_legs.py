"""The two legs a test using ``dual`` contributes to the divergence report.

When the test failed on a divergence, the legs are the two engines' results for
the divergent call (for a Hypothesis test: the minimal example, which
Hypothesis replays last) and the first leg's ``paired_difference`` carries the
first difference with ``source="paired"`` or ``"hypothesis"``, the statement a
reader should look at and the example (Hypothesis's and, when dualdb simplified
it, the simpler call). Otherwise both legs carry the test's own outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dualdb.compare import classify
from dualdb.config import BACKEND_NAMES
from dualdb.dual.results import PairedResult, Raised, falsifying_example, find_divergence_error
from dualdb.records import CapturedStatement, Difference, ErrorRecord, LegPayload, Observation


def report_legs(
    outcome: str,
    error: ErrorRecord | None,
    exception: BaseException | None,
    *,
    last: PairedResult | None,
    examples_run: int,
    normalizer: Callable[[Any], Any],
) -> dict[str, LegPayload]:
    """The legs of the test's report entry (``run.legs.paired_phase`` names the test on them).

    ``last`` is the test's last paired result (the test may have asserted on
    ``run()``'s results itself), ``examples_run`` how many examples used the
    pair, ``normalizer`` the pair's (for the example's arguments).
    """
    divergence = _divergence_for(outcome, exception, last)
    if divergence is None:
        return {name: LegPayload(nodeid="", backend=name, outcome=outcome, error=error) for name in BACKEND_NAMES}
    result, kind = divergence
    legs = {}
    for name in BACKEND_NAMES:
        value = result.values[name]
        raised = isinstance(value, Raised)
        legs[name] = LegPayload(
            nodeid="",
            backend=name,
            outcome="failed" if raised else "passed",
            error=ErrorRecord(value.type, value.message) if raised else None,
            observations=[] if raised else [Observation(result.call, result.normalized[name])],
            statements=result.statements.get(name, []),
        )
    first = legs[BACKEND_NAMES[0]]
    first.paired_kind = kind
    first.paired_difference = _first_difference(result, kind, exception, examples_run, normalizer)
    return legs


def _divergence_for(
    outcome: str, exception: BaseException | None, last: PairedResult | None
) -> tuple[PairedResult, str] | None:
    if outcome not in ("failed", "error"):
        return None
    found = find_divergence_error(exception)
    if found is not None:
        return found.result, found.kind
    if last is not None:  # the test asserted on run()'s results itself
        kind = last.difference()
        if kind is not None:
            return last, kind
    return None


def _first_difference(
    result: PairedResult,
    kind: str,
    exception: BaseException | None,
    examples_run: int,
    normalizer: Callable[[Any], Any],
) -> Difference:
    values = result.report_values()
    a, b = (values[name] for name in BACKEND_NAMES)
    falsifying = falsifying_example(exception)
    source = "hypothesis" if result.hypothesis else "paired"
    simplified_from = getattr(find_divergence_error(exception), "simplified_from", None)
    if falsifying and simplified_from:
        note = f"{falsifying}\n(simplified by dualdb to {result.call})"
    elif falsifying:
        note = falsifying
    elif result.hypothesis:
        note = f"minimal example found by Hypothesis: {result.call}"
    else:
        note = f"paired call {result.call}"
    focus = {
        name: _relevant_statement(result.statements.get(name, []), isinstance(result.values[name], Raised))
        for name in BACKEND_NAMES
    }
    sql = {name: stmt.sql if stmt is not None else None for name, stmt in focus.items()}
    first_stmt = focus[BACKEND_NAMES[0]] or focus[BACKEND_NAMES[1]]
    return Difference(
        source=source,
        values=values,
        shape="error" if kind in ("outcome", "error") else classify(a, b),
        label=result.call,
        sql=sql if any(sql.values()) else None,
        params=first_stmt.params if first_stmt is not None else None,
        ordered=first_stmt is not None and first_stmt.ordered,
        note=note,
        example={
            "call": result.call,
            "args": _normalize_safely(normalizer, list(result.args)),
            "hypothesis": falsifying,
            "simplified_from": simplified_from,
            "examples_run": examples_run,
        },
    )


def _normalize_safely(normalizer: Callable[[Any], Any], value: Any) -> Any:
    try:
        return normalizer(value)
    except Exception:
        return {"$repr": repr(value)[:200]}


def _relevant_statement(statements: list[CapturedStatement], raised: bool) -> CapturedStatement | None:
    """The statement a reader should look at: the one that raised, else the last that returned rows."""
    if not statements:
        return None
    if raised:
        for stmt in reversed(statements):
            if stmt.error:
                return stmt
    for stmt in reversed(statements):
        if stmt.rows is not None and stmt.sql.lstrip().upper().startswith(("SELECT", "WITH")):
            return stmt
    for stmt in reversed(statements):
        if stmt.rows is not None:
            return stmt
    return statements[-1]
