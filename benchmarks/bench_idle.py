"""What does pytest-dualdb cost a project that has it installed but does not use it?

Runs plain ``pytest`` (no ``--dual-db``) on a tiny project with no database test,
N times in fresh subprocesses, with the plugin loaded and with ``-p no:dualdb``,
interleaved so drift on a shared machine hits both alike. The plugin's idle cost
is the difference of the medians; the target is at most 50 ms. Wall time and the
child's CPU time (user + system) are both shown: on a loaded machine CPU time is
the steadier of the two.

Two cases: Python's default of writing bytecode (a user's machine; the first
round warms the caches and is not counted), and ``PYTHONDONTWRITEBYTECODE=1``
(common in Docker images), where pytest re-rewrites the asserts of every plugin
module it imports, in every run.

Other plugins that happen to be installed (Hypothesis's, Faker's, anyio's)
load in both runs: their cost is theirs, not this plugin's. ``--imports``
lists which ``dualdb`` modules and heavy libraries a plain run imports.

    python benchmarks/bench_idle.py [--repeat 15] [--imports]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

TARGET_MS = 50.0
HEAVY = ("sqlalchemy", "psycopg", "hypothesis", "fastapi", "httpx", "sqlglot", "tabulate")


def make_project(root: Path) -> None:
    """Two plain tests and an ini file: what a project without database tests looks like."""
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (root / "test_plain.py").write_text(
        "def test_one():\n    assert 1 + 1 == 2\n\n\ndef test_two():\n    assert 'a'.upper() == 'A'\n",
        encoding="utf-8",
    )


def environment(write_bytecode: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DUALDB_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def one_run(root: Path, env: dict[str, str], disable: bool) -> tuple[float, float]:
    """Wall time and CPU time (s) of one plain pytest run."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if disable:
        argv += ["-p", "no:dualdb"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"bench_idle: pytest failed:\n{done.stdout}{done.stderr}")
    return elapsed, cpu


def measure(root: Path, write_bytecode: bool, repeat: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) time (s) with the plugin and without it, over ``repeat`` interleaved pairs."""
    env = environment(write_bytecode)
    one_run(root, env, False), one_run(root, env, True)  # warm the OS and bytecode caches
    with_plugin, without = [], []
    for _ in range(repeat):
        with_plugin.append(one_run(root, env, False))
        without.append(one_run(root, env, True))
    def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    return medians(with_plugin), medians(without)


def imported_modules(root: Path) -> list[str]:
    """The ``dualdb`` modules and heavy libraries a plain run imports (from ``-X importtime``)."""
    env = environment(True)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root, env=env, capture_output=True, text=True,
    )
    names = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        name = line.rsplit("|", 1)[-1].strip()
        if name.startswith("dualdb") or name in HEAVY:
            names.append(name)
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per case and side (default 15)")
    parser.add_argument("--imports", action="store_true", help="also list the modules a plain run imports")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dualdb-idle-") as folder:
        root = Path(folder)
        make_project(root)
        for label, write_bytecode in (("bytecode written (default)", True), ("PYTHONDONTWRITEBYTECODE=1", False)):
            (wall, cpu), (wall_off, cpu_off) = measure(root, write_bytecode, args.repeat)
            added, added_cpu = (wall - wall_off) * 1000, (cpu - cpu_off) * 1000
            rows.append([label, f"{wall_off * 1000:.0f}", f"{wall * 1000:.0f}", f"{added:+.0f}",
                         f"{added_cpu:+.0f}", "yes" if min(added, added_cpu) <= TARGET_MS else "NO"])
        modules = imported_modules(root) if args.imports else []
    print(f"plain `pytest` on a 2-test project, median of {args.repeat} runs per cell (Python "
          f"{sys.version.split()[0]}):")
    print(tabulate(rows, headers=["case", "-p no:dualdb (ms)", "plugin installed (ms)", "added wall (ms)",
                                  "added CPU (ms)", f"<= {TARGET_MS:.0f} ms"]))
    if args.imports:
        print("\nimported by a plain run: " + (", ".join(modules) or "nothing of dualdb"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
