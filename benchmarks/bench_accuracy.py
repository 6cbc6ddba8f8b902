"""How often is ``--dual-db`` right? False alarms and missed divergences, per suite.

Runs, each with ``--dual-db`` in a subprocess against one PostgreSQL server:

* the five apps of the realistic-suites corpus (``tests/projects/realistic/``: a
  FastAPI shop, a Flask blog, a billing service layer, an async FastAPI box office,
  a SQLAlchemy Core reporting module), whose tests declare
  ``@pytest.mark.expect(verdict, category=...)``;
* the probe catalog (``probes/``), whose probes declare
  ``@pytest.mark.probe(category=..., expect=...)``.

The expectations are read from the markers by ``tests/projects/realistic/corpus.py``
(loaded as a ``-p`` plugin that dumps them to a file); the plugin under test never
sees them. Per suite:

* tests — scored tests (those that need a linguistic collation are not scored on a
  ``C``-collation server);
* expected divergences — tests marked ``diverged``;
* false alarms — expected ``same``, reported ``diverged``;
* missed — expected ``diverged``, reported anything but ``diverged``/``known``;
* unexplained — reported ``diverged`` (whatever was expected) without an explanation
  or with category ``other``;
* category agreement — of the expected divergences that were reported, the share
  whose category is the expected one.

    python benchmarks/bench_accuracy.py [--pg-url URL] [--suite NAME ...] [--details]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from dualdb.engines.server.binaries import find_binaries
from dualdb.engines.server.local import start_server

REPO = Path(__file__).resolve().parents[1]
REALISTIC = REPO / "tests" / "projects" / "realistic"
sys.path.insert(0, str(REALISTIC))

import corpus  # noqa: E402  (tests/projects/realistic/corpus.py)

SUITES = (*corpus.APPS, "probes")
IGNORE = shutil.ignore_patterns("__pycache__", "reports", "*.db", ".pytest_cache", ".hypothesis")


def run_suite(name: str, workdir: Path, pg_url: str) -> tuple[dict, dict, float, str]:
    """(report, expectations, seconds, pytest's output tail) of one ``--dual-db`` run."""
    expectations = workdir / f"{name}-expectations.json"
    report_dir = workdir / f"{name}-report"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALDB_", "PYTEST_"))}
    env["DUALDB_EXPECTATIONS_FILE"] = str(expectations)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REALISTIC), env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "pytest", "--dual-db", "--dualdb-pg-url", pg_url, "-q", "--tb=no",
            "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "corpus", "--dualdb-report-dir", str(report_dir)]
    if name == "probes":
        cwd = REPO
        argv.append(str(REPO / "probes"))
    else:
        cwd = workdir / name
        shutil.copytree(REALISTIC / name, cwd, ignore=IGNORE)
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - started
    tail = (proc.stdout[-2000:] + proc.stderr[-2000:]).strip()
    report_file = report_dir / "dualdb.json"
    if not report_file.exists() or not expectations.exists():
        raise SystemExit(f"{name}: no report (exit {proc.returncode}):\n{tail}")
    return json.loads(report_file.read_text()), json.loads(expectations.read_text()), seconds, tail


def row(name: str, score: corpus.Score, seconds: float) -> list:
    agreement = score.category_agreement
    return [
        name,
        score.tests,
        score.expected_divergences,
        len(score.false_alarms),
        len(score.missed),
        len(score.unexplained),
        "-" if agreement is None else f"{agreement:.0%}",
        f"{seconds:.1f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", help="use this PostgreSQL server (default: $DUALDB_PG_URL, else start one)")
    parser.add_argument("--suite", action="append", choices=SUITES, help="only these suites (repeatable)")
    parser.add_argument("--details", action="store_true", help="describe every false alarm, miss and wrong category")
    args = parser.parse_args(argv)
    suites = args.suite or list(SUITES)

    pg_url = args.pg_url or os.environ.get("DUALDB_PG_URL")
    server = None
    if not pg_url:
        server = start_server(find_binaries(os.environ.get("DUALDB_PG_BINARIES")))
        pg_url = server.url
    rows, problems, linguistic = [], [], None
    totals = corpus.Score()
    total_seconds = 0.0
    try:
        with tempfile.TemporaryDirectory(prefix="dualdb-accuracy-") as tmp:
            for name in suites:
                report, expected, seconds, _ = run_suite(name, Path(tmp), pg_url)
                linguistic = corpus.linguistic(report)
                score = corpus.score(report, expected)
                rows.append(row(name, score, seconds))
                total_seconds += seconds
                for field in ("tests", "expected_divergences"):
                    setattr(totals, field, getattr(totals, field) + getattr(score, field))
                for field in ("false_alarms", "missed", "wrong_category", "unexplained", "not_applicable"):
                    getattr(totals, field).extend(getattr(score, field))
                problems += [(name, "false alarm", e) for e in score.false_alarms]
                problems += [(name, "missed", e) for e in score.missed]
                problems += [(name, "wrong category", e) for e in score.wrong_category]
                problems += [(name, "no explanation", e) for e in score.unexplained_expected]
    finally:
        if server is not None:
            server.stop()

    rows.append(row("all", totals, total_seconds))
    print(tabulate(rows, headers=["suite", "tests", "expected divergences", "false alarms", "missed divergences",
                                  "unexplained divergences", "category agreement", "seconds"]))
    if linguistic is False and totals.not_applicable:
        print(f"\n{len(totals.not_applicable)} tests not scored: they need a linguistic collation and this "
              "PostgreSQL sorts bytewise (C)")
    if args.details:
        for name, what, entry in problems:
            print(f"\n[{name}] {what}: {corpus.describe(entry)}")
    elif problems:
        print(f"\n{len(problems)} problems; --details describes each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
