"""How long does each differential probe take to find and shrink its divergence?

Runs every probe of ``probes/test_differential.py`` on real SQLite and PostgreSQL
through ``dualdb.dual.runner.Paired`` (the logic of the ``dual`` fixture), several
times each, with Hypothesis's default settings except that its example database
is off (every run searches from scratch). Prints one row per probe: how often
the divergence was found, the median / min / max time to find *and* shrink it,
how many examples that took, and the shrunk example.

Targets (issue 6):

* every ``expect="diverged"`` probe finds its divergence in every run, with a
  median under 10 s;
* the text-ordering probe shrinks to two strings of at most one character;
* every ``expect="same"`` probe finds nothing.

    python benchmarks/bench_differential.py [--runs 5] [--probe test_catalog_order_by_name ...]

Uses ``DUALDB_PG_URL`` when set, otherwise starts a private local PostgreSQL.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

from hypothesis import settings
from tabulate import tabulate

# Before the probes are imported: @given reads the default settings when it decorates.
settings.register_profile("dualdb-bench", database=None)
settings.load_profile("dualdb-bench")

from dualdb.config import Settings  # noqa: E402
from dualdb.dual.results import DivergenceError  # noqa: E402
from dualdb.dual.runner import Paired  # noqa: E402
from dualdb.run.state import RunState  # noqa: E402

TARGET_SECONDS = 10.0
ORDERING_PROBE = "test_catalog_order_by_name"
MODULE = "dualdb.probes.test_differential"


def probes(names: list[str]) -> list[tuple[str, Any, dict[str, Any]]]:
    import importlib

    module = importlib.import_module(MODULE)
    found = []
    for name in vars(module):  # file order: the divergent probes, then the look-alikes
        fn = getattr(module, name)
        if not name.startswith("test_") or not callable(fn):
            continue
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "probe"]
        if not marks or (names and name not in names):
            continue
        used = getattr(fn, "_hypothesis_internal_use_settings", None)
        if used is None or used.database is not None:
            raise SystemExit(f"{name}: not a Hypothesis test with the database off; cannot benchmark it")
        found.append((name, fn, marks[0].kwargs))
    if not found:
        raise SystemExit(f"no probes matched {names!r} in {MODULE}")
    return found


def run_once(fn: Any, state: RunState) -> tuple[float, DivergenceError | None, int]:
    paired = Paired.from_run_state(state, record=False)
    started = time.perf_counter()
    try:
        fn(dual=paired)
        error = None
    except DivergenceError as exc:
        error = exc
    finally:
        elapsed = time.perf_counter() - started
        paired.close()
    return elapsed, error, paired.examples


def ordering_minimal(error: DivergenceError | None) -> bool:
    if error is None or not error.result.args:
        return False
    values = error.result.args[0]
    return isinstance(values, list) and len(values) == 2 and all(len(v) <= 1 for v in values)


def clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per probe (default 5)")
    parser.add_argument("--probe", action="append", default=[], help="only this probe (repeatable)")
    args = parser.parse_args(argv)

    server = None
    pg_url = os.environ.get("DUALDB_PG_URL")
    if not pg_url:
        from dualdb.engines.server.binaries import find_binaries
        from dualdb.engines.server.local import start_server

        server = start_server(find_binaries(os.environ.get("DUALDB_PG_BINARIES")))
        pg_url = server.url
    state = RunState(Settings(pg_url=pg_url, metadata_specs=("dualdb.probes.models:Base",)))
    rows, failures = [], []
    try:
        for name in ("sqlite", "postgresql"):
            state.backend(name)
        for name, fn, mark in probes(args.probe):
            expect = mark.get("expect")
            times, examples, shown, hits, minimal = [], [], "", 0, True
            for _ in range(args.runs):
                elapsed, error, count = run_once(fn, state)
                times.append(elapsed)
                examples.append(count)
                if error is not None:
                    hits += 1
                    shown = error.result.call
                    if name == ORDERING_PROBE:
                        minimal = minimal and ordering_minimal(error)
            median = statistics.median(times)
            ok = True
            if expect == "diverged":
                ok = hits == args.runs and median < TARGET_SECONDS and minimal
                if not ok:
                    failures.append(f"{name}: found {hits}/{args.runs}, median {median:.2f} s"
                                    + ("" if minimal else ", ordering example not minimal"))
            else:
                ok = hits == 0
                if not ok:
                    failures.append(f"{name}: expected no divergence, found one in {hits}/{args.runs} runs: {shown}")
                shown = shown or "(none: engines agree)"
            rows.append([
                name.removeprefix("test_"), mark.get("category"), expect, f"{hits}/{args.runs}",
                f"{median:.2f}", f"{min(times):.2f}", f"{max(times):.2f}", int(statistics.median(examples)),
                clip(shown), "ok" if ok else "MISSED",
            ])
            print(f"  {name}: median {median:.2f} s", file=sys.stderr, flush=True)
    finally:
        state.close()
        if server is not None:
            server.stop()

    print(tabulate(
        rows,
        headers=["probe", "category", "expect", "found", "median s", "min s", "max s", "examples",
                 "shrunk example", f"< {TARGET_SECONDS:.0f} s"],
        tablefmt="github",
    ))
    print(f"\nHypothesis defaults, database off; {args.runs} runs per probe; SQLite vs PostgreSQL "
          f"({state.backend_info.get('postgresql', {}).get('version', '?')}, "
          f"collation {state.backend_info.get('postgresql', {}).get('collation', '?')}).")
    for line in failures:
        print(f"MISSED: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
