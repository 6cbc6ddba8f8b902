"""The ``dualdb`` command: run the teaching catalog, or re-render a saved report.

    dualdb probes [-k EXPR] [--category NAME] [--pg-url URL] [--report-dir DIR]
    dualdb report reports/dualdb.json [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from tabulate import tabulate

from dualdb.report.model import CATEGORIES, Leg, Report, read_report


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "probes":
        return run_probes(args)
    if args.command == "report":
        return rerender_report(args)
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dualdb",
        description="pytest-dualdb: see what SQLite hides from your PostgreSQL application.",
    )
    sub = parser.add_subparsers(dest="command")
    probes = sub.add_parser(
        "probes",
        help="run the catalog of real SQLite-vs-PostgreSQL divergences on this machine",
        description="Run the catalog with --dual-db, print a table and write reports/. "
        "Exit 0 when every divergent probe diverged and every look-alike did not.",
    )
    probes.add_argument("-k", dest="keyword", metavar="EXPR", help="only probes matching this pytest -k expression")
    probes.add_argument("--category", choices=CATEGORIES, help="only probes of this category")
    probes.add_argument("--pg-url", metavar="URL", help="use this PostgreSQL server instead of starting one")
    probes.add_argument("--report-dir", default="reports", metavar="DIR", help="where reports go (default: reports)")
    probes.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output and tracebacks")
    report = sub.add_parser("report", help="re-render dualdb.md and dualdb.html from a saved dualdb.json")
    report.add_argument("json_path", metavar="FILE.json")
    report.add_argument("--out", metavar="DIR", help="output folder (default: next to the JSON)")
    return parser


# -- dualdb probes -----------------------------------------------------------------------


class ProbeExpectations:
    """A pytest plugin that reads each probe's ``probe(category, expect)`` marker."""

    def __init__(self, category: str | None):
        self.category = category
        self.expected: dict[str, dict[str, str]] = {}

    def pytest_collection_modifyitems(self, session, config, items) -> None:  # noqa: ANN001
        from dualdb.ids import base_nodeid

        keep, drop = [], []
        for item in items:
            marker = item.get_closest_marker("probe")
            info = dict(marker.kwargs) if marker else {}
            if self.category and info.get("category") != self.category:
                drop.append(item)
                continue
            keep.append(item)
            backend = getattr(getattr(item, "callspec", None), "params", {}).get("dualdb_backend", "")
            self.expected[base_nodeid(item.nodeid, backend)] = info
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def probes_dir() -> Path:
    spec = importlib.util.find_spec("dualdb.probes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("dualdb: the probe catalog is not installed (package dualdb.probes missing)")
    return Path(next(iter(spec.submodule_search_locations)))


def run_probes(args: argparse.Namespace) -> int:
    import pytest

    folder = probes_dir()
    report_dir = Path(args.report_dir).resolve()
    argv = [
        str(folder),
        "--dual-db",
        "--rootdir",
        str(folder),
        "-c",
        str(folder / "pytest.ini"),
        "-p",
        "no:cacheprovider",
        "--dualdb-report-dir",
        str(report_dir),
    ]
    argv += ["-v"] if args.verbose else ["-q", "--tb=no", "--no-header", "-p", "no:warnings", "-rN"]
    if args.keyword:
        argv += ["-k", args.keyword]
    if args.pg_url:
        argv += ["--dualdb-pg-url", args.pg_url]
    expectations = ProbeExpectations(args.category)
    code, pytest_output = _run_pytest(pytest, argv, expectations, quiet=not args.verbose)
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        print(pytest_output, end="")
        return int(code)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("dualdb probes: no probe matched", file=sys.stderr)
        return int(code)
    report = read_report(report_dir / "dualdb.json")
    postgresql = report.backends.get("postgresql")
    collation = (postgresql.collation if postgresql is not None else None) or "C"
    linguistic, icu = collation != "C", collation.endswith("-x-icu")
    rows, surprises, not_applicable = probe_table(report, expectations.expected, linguistic, icu)
    print()
    print(tabulate(rows, headers=["probe", "category", "sqlite", "postgresql", "verdict", "as documented"]))
    print()
    engines = ", ".join(f"{name} {info.version}" for name, info in report.backends.items() if info is not None)
    checked = len(rows) - len(not_applicable)
    print(f"{len(rows)} probes on {engines}: {checked - len(surprises)} behaved as documented, "
          f"{len(surprises)} did not")
    if not_applicable:
        if linguistic:
            print(f"{len(not_applicable)} probes not checked: they need ICU's Unicode rules and this "
                  f"PostgreSQL's collation is the libc {collation}; run with a server that has ICU "
                  "(--pg-url) to see them diverge")
        else:
            print(f"{len(not_applicable)} probes not checked: they need a linguistic collation (ICU or "
                  "en_US.UTF-8, as production servers have) and this PostgreSQL sorts bytewise (C); "
                  "run with a server that has ICU (--pg-url) to see them diverge")
    for line in surprises:
        print(f"  unexpected: {line}")
    if not args.verbose:
        print(expected_failures_line(report, expectations.expected))
    from dualdb.probes import unavailable_probes

    for name, extra in sorted(unavailable_probes().items()):
        print(f'{name} not run: it needs the [{extra}] extra (pip install "pytest-dualdb[all]")')
    print(f"reports: {report_dir / 'dualdb.json'}, {report_dir / 'dualdb.md'}, {report_dir / 'dualdb.html'}")
    return 0 if not surprises else 1


def _run_pytest(pytest, argv: list[str], plugin: object, quiet: bool) -> tuple[int, str]:  # noqa: ANN001
    """Run the catalog; quietly, pytest's own output is kept aside so the verdict table leads.

    A divergent probe *fails* on one engine by design: its traceback is the
    lesson, and it is in the reports (and in ``-v``), not a wall on the terminal.
    """
    if not quiet:
        return pytest.main(argv, plugins=[plugin]), ""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = pytest.main(argv, plugins=[plugin])
    return code, buffer.getvalue()


def expected_failures_line(report: Report, expected: dict[str, dict[str, str]]) -> str:
    """One line for the legs that failed as their probe documents (the lesson, not a bug)."""
    failed = {"sqlite": 0, "postgresql": 0}
    probes = 0
    for test in report.tests:
        failing = [name for name in failed if name in test.legs and test.legs[name].outcome in ("failed", "error")]
        if failing and expected.get(test.nodeid, {}).get("expect") == "diverged":
            probes += 1
            for name in failing:
                failed[name] += 1
    both = failed["postgresql"] + failed["sqlite"] - probes  # an `error` divergence: each engine failed its own way
    on_both = f", {both} of them on both engines differently" if both else ""
    return (f"{probes} divergent probes failed as documented ({failed['postgresql']} on PostgreSQL, "
            f"{failed['sqlite']} on SQLite{on_both}): each error is in dualdb.md and dualdb.html; "
            "-v shows the tracebacks")


def probe_table(
    report: Report, expected: dict[str, dict[str, str]], linguistic: bool = True, icu: bool = True
) -> tuple[list[list[str]], list[str], list[str]]:
    """One row per probe; the probes that contradict their documented expectation; and the
    probes that could not be checked (they need a linguistic collation, or ICU's Unicode rules
    beyond what a libc locale does, and this server lacks it)."""
    rows, surprises, not_applicable = [], [], []
    for test in report.tests:
        info = expected.get(test.nodeid, {})
        expect = info.get("expect", "same")
        verdict = test.verdict
        ok = verdict in ("diverged", "known") if expect == "diverged" else verdict == "same"
        needs = info.get("needs")
        applicable = (linguistic or needs not in ("linguistic", "icu")) and (icu or needs != "icu")
        rows.append([
            test.nodeid.split("::")[-1],
            info.get("category") or test.category or "-",
            _leg_cell(test.legs.get("sqlite")),
            _leg_cell(test.legs.get("postgresql")),
            verdict + (f" ({test.kind})" if test.kind else ""),
            ("yes" if ok else "NO") if applicable else "n/a (needs ICU)",
        ])
        if not applicable:
            not_applicable.append(test.nodeid)
        elif not ok:
            surprises.append(f"{test.nodeid}: expected {expect}, got {verdict}")
    return rows, surprises, not_applicable


def _leg_cell(leg: Leg | None) -> str:
    if leg is None:
        return "-"
    if leg.error is None:
        return leg.outcome
    return f"{leg.outcome}: {leg.error.type}"[:40]


# -- dualdb report -----------------------------------------------------------------------


def rerender_report(args: argparse.Namespace) -> int:
    from dualdb.errors import ReportFileError
    from dualdb.report.files import rerender

    try:
        written = rerender(Path(args.json_path), Path(args.out) if args.out else None)
    except ReportFileError as exc:
        print(f"dualdb report: {exc}", file=sys.stderr)
        return 2
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
