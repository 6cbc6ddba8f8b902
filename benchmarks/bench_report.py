"""How long does writing the report take for a large suite?

Builds a synthetic 5,000-test report shaped like a real run (mostly ``same`` tests,
a few hundred divergences, statements with rows and parameters, observations) and
times each step: ``Report.to_dict``, the JSON write, the Markdown and the HTML.
Target: all of it in at most 1 s.

    python benchmarks/bench_report.py [--tests 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from dualdb.report.html import render_html
from dualdb.report.markdown import render_markdown
from dualdb.report.model import CATEGORIES, SCHEMA, ErrorInfo, Explanation, Leg, Report, TestEntry

TARGET_SECONDS = 1.0
# Roughly what a real suite looks like: most tests agree.
VERDICT_WEIGHTS = {"same": 80, "diverged": 8, "known": 3, "failed_both": 4, "skipped": 5}


def _statements(rng: random.Random, n: int, backend: str, test_no: int) -> list[dict]:
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(
                {
                    "sql": "INSERT INTO orders (customer_id, total, note) VALUES (?, ?, ?)",
                    "params": [test_no, round(rng.random() * 100, 2), f"note {i}"],
                    "rowcount": 1,
                    "rows": None,
                    "digest": None,
                    "error": None,
                }
            )
        else:
            rows = [
                [j, f"customer-{j}", round(rng.random() * 1000, 2), "2024-05-01T10:00:00"]
                for j in range(rng.randint(1, 6))
            ]
            out.append(
                {
                    "sql": "SELECT o.id, c.name, o.total, o.created_at\nFROM orders o JOIN customers c ON c.id = o.customer_id\n"
                    "WHERE c.name LIKE ? ORDER BY c.name",
                    "params": ["cust%"],
                    "rowcount": len(rows),
                    "rows": rows,
                    "digest": f"{rng.getrandbits(64):016x}",
                    "error": None,
                }
            )
    return out


def build_report(n_tests: int = 5000, seed: int = 1) -> Report:
    rng = random.Random(seed)
    verdicts = rng.choices(list(VERDICT_WEIGHTS), weights=list(VERDICT_WEIGHTS.values()), k=n_tests)
    tests = []
    for i, verdict in enumerate(verdicts):
        n_stmts = rng.randint(2, 8)
        legs = {}
        for backend in ("sqlite", "postgresql"):
            legs[backend] = Leg(
                outcome="skipped" if verdict == "skipped" else "passed",
                observations=[
                    {"label": "count", "value": rng.randint(0, 9)},
                    {"label": "names", "value": ["a", "B", "c"]},
                ],
                statements=_statements(rng, n_stmts, backend, i),
            )
        entry = TestEntry(
            nodeid=f"tests/test_module_{i // 50}.py::test_case_{i}[param-{i % 7}]", verdict=verdict, legs=legs
        )
        if verdict in ("diverged", "known"):
            category = rng.choice(CATEGORIES)
            kind = rng.choice(("outcome", "error", "value"))
            entry.category, entry.kind = category, kind
            idx = rng.randrange(n_stmts)
            if kind == "outcome":
                legs["postgresql"].outcome = "failed"
                legs["postgresql"].error = ErrorInfo(
                    "IntegrityError", 'duplicate key value violates unique constraint "orders_pkey"'
                )
                legs["postgresql"].statements[idx]["error"] = {
                    "type": "IntegrityError",
                    "message": "duplicate key value",
                }
            elif kind == "error":
                for backend, etype in (("sqlite", "OperationalError"), ("postgresql", "ProgrammingError")):
                    legs[backend].outcome = "failed"
                    legs[backend].error = ErrorInfo(etype, f"{backend} says no")
            sl = legs["sqlite"].statements[idx]
            pg = legs["postgresql"].statements[idx]
            entry.first_difference = {
                "source": "statement",
                "index": idx,
                "label": None,
                "sql": {"sqlite": sl["sql"], "postgresql": pg["sql"]},
                "values": {"sqlite": sl["rows"], "postgresql": list(reversed(pg["rows"] or []))},
                "shape": "row order",
                "note": None,
            }
            entry.explanation = Explanation(
                title="Text sorts bytewise on SQLite, linguistically on PostgreSQL",
                why="SQLite compares TEXT with memcmp (BINARY) unless told otherwise; PostgreSQL uses the database collation.",
                fix='Pin the collation in the query (`COLLATE "C"`) or sort in Python with an explicit key.',
                rule=f"{category}.rule",
            )
            if verdict == "known":
                entry.known_reason = "tracked in ISSUE-123"
            entry.harness_notes = ["sequence ids aligned before the test"]
        elif verdict == "failed_both":
            for leg in legs.values():
                leg.outcome = "failed"
                leg.error = ErrorInfo("AssertionError", "assert 3 == 4")
        tests.append(entry)
    return Report(
        backends={
            "sqlite": {"version": "3.40.1", "url": "sqlite:///:memory:"},
            "postgresql": {
                "version": "16.4",
                "url": "postgresql+psycopg://dualdb:***@127.0.0.1:5433/dualdb_x",
                "collation": "en-US-x-icu",
            },
        },
        tests=tests,
        warnings=["synthetic benchmark report"],
    )


def _time(fn, repeat: int):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per step")
    args = parser.parse_args(argv)

    report = build_report(args.tests)
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "dualdb.json"
        t_dict, data = _time(report.to_dict, args.repeat)
        t_json_only, _ = _time(lambda: report.write_json(json_path, data), args.repeat)
        t_md, md = _time(lambda: render_markdown(report), args.repeat)
        t_html, html = _time(lambda: render_html(report), args.repeat)
        json_size = json_path.stat().st_size
        # Sanity: the output parses back and mentions every test.
        assert json.loads(json_path.read_text(encoding="utf-8"))["summary"]["tests"] == args.tests

    total = t_dict + t_json_only + t_md + t_html
    summary = data["summary"]
    rows = [
        ["Report.to_dict", f"{t_dict * 1000:.0f}", ""],
        ["JSON dump + write", f"{t_json_only * 1000:.0f}", f"{json_size / 1e6:.1f} MB"],
        ["render_markdown", f"{t_md * 1000:.0f}", f"{len(md.encode()) / 1e6:.2f} MB"],
        ["render_html", f"{t_html * 1000:.0f}", f"{len(html.encode()) / 1e6:.1f} MB"],
        ["total", f"{total * 1000:.0f}", ""],
    ]
    print(
        f"{args.tests} tests: "
        + ", ".join(f"{k} {v}" for k, v in summary.items() if k != "tests")
        + f" (best of {args.repeat}, Python {sys.version.split()[0]})"
    )
    print(tabulate(rows, headers=["step", "ms", "size"], colalign=("left", "right", "right")))
    ok = total <= TARGET_SECONDS
    print(f"target ≤ {TARGET_SECONDS:.0f} s: {'met' if ok else 'MISSED'}")

    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
