"""The fixed cost of a ``pytest --dual-db`` run: what it adds to the same run on SQLite alone.

Three generated projects, each with one database test (``bench_schema_reuse``'s
generators): 1 table, 120 tables (``dualdb_metadata``), a 40-revision Alembic
history (``dualdb_alembic_config``). Every run is a whole pytest process in a
subprocess, on the plugin's own local server. Two times per run:

- whole process: from ``Popen`` to exit (start-up, the test, the report, the
  server's stop, the drops, interpreter exit);
- to first test: to the first test's call (its fixtures set up; provisioning
  happens at collection's end, so it is included).

"added" = the time minus the same project's run without ``--dual-db``
(SQLite only, same process settings). "warm": the plugin's cache
(``DUALDB_CACHE_DIR``: the initialised cluster, the kept schemas) filled by an
unmeasured run; "cold": an empty cache folder per run (pays ``initdb`` and the
schema build). "reuse" is the default; "rebuild" passes ``--dualdb-rebuild``.
Cases run round-robin (one of each per repetition), so load drift hits all
alike; medians of ``--repeat``; the machine's load average is printed.

Bytecode on: subprocesses write and read bytecode under a private
``PYTHONPYCACHEPREFIX`` (warmed by the unmeasured runs), as on a developer
machine, and nothing is written next to the sources. Bytecode off:
``PYTHONDONTWRITEBYTECODE=1`` and pytest's rewritten-module cache forced to
miss, as in a Docker image that never wrote one: every module that goes
through pytest's ``AssertionRewritingHook`` is parsed, rewritten and compiled
in every process. The timing plugin counts those modules and the time
``_rewrite_test`` spends on ``dualdb.*``. ``--python`` adds the bytecode-off
rows for another interpreter (e.g. a venv with a regular, non-editable
install: ``python -m venv /tmp/v && /tmp/v/bin/pip install .``).

    python benchmarks/bench_startup.py [--repeat 5] [--python /tmp/v/bin/python] [--quick]

Targets (issue #15): reused 120 tables / 40 migrations <= 1.15x the reused
1-table run; warm whole-process added <= 0.25 s on the 1-table project; the
plugin's own modules <= 0.1 s of assertion rewriting per process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_schema_reuse import make_project  # noqa: E402 - the same projects as the reuse benchmark

PROJECTS = {"1 table": "1", "120 tables": "120", "40 migrations": "alembic"}

TIMER = '''
"""Timestamps of a pytest run's phases, and what pytest's assertion rewriting does. PYTEST_DONT_REWRITE"""
import atexit, os, sys, time

import pytest
import _pytest.assertion.rewrite as _rw

_lines = []
_seen = set()


def stamp(name):
    if name not in _seen:
        _seen.add(name)
        _lines.append(f"stamp {name} {time.time()!r}")


stamp("timer_import")

_names = {}
_orig_exec = _rw.AssertionRewritingHook.exec_module
_orig_rewrite = _rw._rewrite_test


def _exec_module(self, module):
    _names[str(module.__spec__.origin)] = module.__name__
    return _orig_exec(self, module)


def _rewrite_test(fn, config):
    started = time.perf_counter()
    try:
        return _orig_rewrite(fn, config)
    finally:
        _lines.append(f"rewrite {_names.get(str(fn), fn)} {time.perf_counter() - started!r}")


_rw.AssertionRewritingHook.exec_module = _exec_module
_rw._rewrite_test = _rewrite_test
if os.environ.get("BENCH_FRESH_REWRITE"):
    _rw._read_pyc = lambda *args, **kwargs: None  # as if pytest never wrote its rewritten pycs


@atexit.register  # registered first: runs last
def _write():
    stamp("atexit")
    for origin, name in _names.items():
        _lines.append(f"hooked {name} 0")
    with open(os.environ["BENCH_STAMPS"], "w") as f:
        f.write("\\n".join(_lines) + "\\n")


def _wrap(hook, name):
    @pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: around the terminal reporter's wrappers too
    def wrapper(*args, **kwargs):
        stamp(name + "_start")
        try:
            return (yield)
        finally:
            stamp(name + "_end")
    wrapper.__name__ = hook
    return wrapper


class _ConfigureEnd:  # pytest_configure is historic: no wrapper, so a first and a last implementation
    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        stamp("configure_end")


class _ConfigureStart:
    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config):
        stamp("configure_start")


def pytest_addhooks(pluginmanager):
    pluginmanager.register(_ConfigureStart(), "bench-configure-start")
    pluginmanager.register(_ConfigureEnd(), "bench-configure-end")


pytest_collection = _wrap("pytest_collection", "collection")
pytest_collection_finish = _wrap("pytest_collection_finish", "provision")
pytest_sessionfinish = _wrap("pytest_sessionfinish", "sessionfinish")
pytest_terminal_summary = _wrap("pytest_terminal_summary", "summary")
pytest_unconfigure = _wrap("pytest_unconfigure", "unconfigure")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    stamp("first_call")


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid, location):
    stamp_last = f"stamp tests_end {time.time()!r}"
    if _lines and _lines[-1].startswith("stamp tests_end "):
        _lines[-1] = stamp_last
    else:
        _lines.append(stamp_last)
'''

PHASES = [  # (label, from stamp, to stamp); "T0"/"T1" are the parent's Popen and exit
    ("to pytest_configure (imports, plugins)", "T0", "configure_start"),
    ("pytest_configure", "configure_start", "configure_end"),
    ("collection", "configure_end", "provision_start"),
    ("collection_finish (provisioning)", "provision_start", "provision_end"),
    ("first test: setup to call", "provision_end", "first_call"),
    ("tests", "first_call", "tests_end"),
    ("sessionfinish (report files)", "tests_end", "summary_start"),
    ("terminal summary", "summary_start", "summary_end"),
    ("unconfigure (server stop, drops)", "summary_end", "unconfigure_end"),
    ("exit (atexit, interpreter teardown)", "unconfigure_end", "T1"),
]

IMPORT_GROUPS = ["dualdb", "sqlalchemy", "psycopg", "alembic", "sqlglot", "tabulate", "platformdirs",
                 "psutil", "fasteners", "json/sqlite3/uuid/...(stdlib, other)"]


class Run(dict):
    """One process: ``whole``, ``first``, stamps, rewrite seconds by module, import self-times by module."""


def run(python: str, folder: Path, args: list[str], env: dict[str, str], importtime: bool = False) -> Run:
    stamps_file = folder / "bench_stamps.txt"
    stamps_file.unlink(missing_ok=True)
    env = {**env, "BENCH_STAMPS": str(stamps_file), "PYTHONPATH": str(folder)}
    cmd = [python, *(["-X", "importtime"] if importtime else []), "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-p", "bench_timer", *args]
    started = time.time()
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    ended = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"run failed in {folder} {args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    out = Run(whole=ended - started, stamps={"T0": started, "T1": ended}, rewrite={}, hooked=set(), imports={})
    for line in stamps_file.read_text().splitlines():
        if line.startswith("stamp "):
            _, name, value = line.split(" ")
            out["stamps"][name] = float(value)
        elif line.startswith("rewrite "):
            _, name, value = line.split(" ")
            out["rewrite"][name] = out["rewrite"].get(name, 0.0) + float(value)
        elif line.startswith("hooked "):
            out["hooked"].add(line.split(" ")[1])
    out["first"] = out["stamps"]["first_call"] - started
    if importtime:
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and "|" in line and "self [us]" not in line:
                self_us, _cumulative, name = line[len("import time:"):].split("|")
                out["imports"][name.strip()] = out["imports"].get(name.strip(), 0) + int(self_us) / 1e6
    return out


def median(values) -> float:
    return statistics.median(list(values))


def phase(r: Run, start: str, end: str) -> float:
    return r["stamps"][end] - r["stamps"][start]


def import_group(module: str) -> str:
    top = module.split(".")[0]
    return top if top in IMPORT_GROUPS else IMPORT_GROUPS[-1]


def install_kind(python: str) -> str:
    code = ("import importlib.metadata as m, json; d = m.distribution('pytest-dualdb'); "
            "u = d.read_text('direct_url.json'); import dualdb, pytest; "
            "print(('editable' if u and json.loads(u).get('dir_info', {}).get('editable') else 'regular'), "
            "dualdb.__file__, pytest.__version__)")
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python", action="append", default=[],
                        help="another interpreter for the bytecode-off rows (e.g. a regular install's venv)")
    parser.add_argument("--quick", action="store_true", help="the 1-table project only, no cold runs")
    args = parser.parse_args(argv)
    me = sys.executable
    n = args.repeat
    projects = {"1 table": "1"} if args.quick else PROJECTS
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp_name:
        tmp = Path(tmp_name)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DUALDB_", "PYTHONDONTWRITEBYTECODE",
                                                                         "PYTHONPYCACHEPREFIX", "PYTEST_"))}
        bytecode_on = {**base, "PYTHONPYCACHEPREFIX": str(tmp / "pycache"), "DUALDB_CACHE_DIR": str(tmp / "cache")}
        bytecode_off = {**base, "PYTHONDONTWRITEBYTECODE": "1", "BENCH_FRESH_REWRITE": "1",
                        "DUALDB_CACHE_DIR": str(tmp / "cache")}
        folders = {}
        for label, kind in projects.items():
            folders[label] = tmp / kind
            make_project(folders[label], kind)
            (folders[label] / "bench_timer.py").write_text(TIMER)
            run(me, folders[label], [], bytecode_on)  # warm: bytecode, and below the cluster and the kept schema
            run(me, folders[label], ["--dual-db"], bytecode_on)

        cases = {"plain": [], "reuse": ["--dual-db"], "rebuild": ["--dual-db", "--dualdb-rebuild"]}
        runs: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
        cold_count = 0
        for _ in range(n):
            for label in projects:
                for mode, extra in cases.items():
                    runs[label, mode, "warm"].append(run(me, folders[label], extra, bytecode_on))
                    if mode == "plain" or args.quick:
                        continue
                    cold_count += 1
                    cold_env = {**bytecode_on, "DUALDB_CACHE_DIR": str(tmp / f"cold-{cold_count}")}
                    runs[label, mode, "cold"].append(run(me, folders[label], extra, cold_env))
                    shutil.rmtree(tmp / f"cold-{cold_count}", ignore_errors=True)

        # imports: -X importtime, self time by package, warm, 1-table project, plain vs reuse
        imports: dict[tuple[str, str], list[Run]] = defaultdict(list)
        for _ in range(n):
            for bytecode, env in (("on", bytecode_on), ("off", bytecode_off)):
                for mode in ("plain", "reuse"):
                    imports[bytecode, mode].append(run(me, folders["1 table"], cases[mode], env, importtime=True))

        # bytecode off: whole process, and what assertion rewriting costs the plugin's modules
        pythons = [me, *args.python]
        off: dict[tuple[str, str], list[Run]] = defaultdict(list)
        for python in pythons:
            run(python, folders["1 table"], ["--dual-db"], bytecode_off)  # its own cluster cache is warm already
        for _ in range(n):
            for python in pythons:
                for mode in ("plain", "reuse"):
                    off[python, mode].append(run(python, folders["1 table"], cases[mode], bytecode_off))
        kinds = {python: install_kind(python) for python in pythons}
    load_after = load()

    print(f"pytest-dualdb fixed cost of a one-test run; median of {n}; own local server; "
          f"interpreter {me} ({kinds[me]})")
    print(f"load average before: {load_before}; after: {load_after}")
    print()

    def added(label: str, mode: str, heat: str, key: str) -> float:
        return median(r[key] for r in runs[label, mode, heat]) - median(r[key] for r in runs[label, "plain", "warm"])

    rows = []
    for label in projects:
        plain_whole = median(r["whole"] for r in runs[label, "plain", "warm"])
        plain_first = median(r["first"] for r in runs[label, "plain", "warm"])
        rows.append([label, "no --dual-db", "", f"{plain_whole:.2f}", "", f"{plain_first:.2f}", ""])
        for mode in ("reuse", "rebuild"):
            for heat in ("warm", "cold"):
                if not runs[label, mode, heat]:
                    continue
                rows.append([label, mode, heat,
                             f"{median(r['whole'] for r in runs[label, mode, heat]):.2f}",
                             f"{added(label, mode, heat, 'whole'):+.2f}",
                             f"{median(r['first'] for r in runs[label, mode, heat]):.2f}",
                             f"{added(label, mode, heat, 'first'):+.2f}"])
    print("start-up, bytecode on (s); added = minus the same project without --dual-db")
    print(tabulate(rows, headers=["project", "run", "cache", "whole process", "added", "to first test", "added"]))
    print()

    base_whole = median(r["whole"] for r in runs["1 table", "reuse", "warm"])
    ratio_rows = []
    worst = 0.0
    for label in projects:
        reuse = median(r["whole"] for r in runs[label, "reuse", "warm"])
        rebuild = median(r["whole"] for r in runs[label, "rebuild", "warm"])
        if label != "1 table":
            worst = max(worst, reuse / base_whole)
        ratio_rows.append([label, f"{reuse:.2f}", f"{reuse / base_whole:.2f}x", f"{rebuild:.2f}",
                           f"{rebuild / base_whole:.2f}x"])
    print("warm whole process vs the reused 1-table run")
    print(tabulate(ratio_rows, headers=["project", "reuse s", "ratio", "rebuild s", "ratio"]))
    one_added = added("1 table", "reuse", "warm", "whole")
    if len(projects) > 1:
        print(f"target: reused 120 tables / 40 migrations <= 1.15x: worst {worst:.2f}x "
              f"({'met' if worst <= 1.15 else 'NOT met'})")
    print(f"target: warm whole-process added <= 0.25 s on 1 table: {one_added:.2f} s "
          f"({'met' if one_added <= 0.25 else 'NOT met'})")
    print()

    phase_rows = []
    for title, start, end in PHASES:
        row = [title]
        for label in projects:
            plain = median(phase(r, start, end) for r in runs[label, "plain", "warm"])
            dual = median(phase(r, start, end) for r in runs[label, "reuse", "warm"])
            row += [f"{plain:.3f}", f"{dual:.3f}", f"{dual - plain:+.3f}"]
        phase_rows.append(row)
    headers = ["phase (warm, reuse)"]
    for label in projects:
        headers += [f"{label}: plain", "dual", "added"]
    print("where the time goes: phases of a warm run from the timing plugin's hook wrappers (s)")
    print(tabulate(phase_rows, headers=headers))
    print()

    import_rows = []
    for group in IMPORT_GROUPS:
        row = [group]
        for bytecode in ("on", "off"):
            plain = median(sum(t for m, t in r["imports"].items() if import_group(m) == group)
                           for r in imports[bytecode, "plain"])
            dual = median(sum(t for m, t in r["imports"].items() if import_group(m) == group)
                          for r in imports[bytecode, "reuse"])
            row += [f"{plain:.3f}", f"{dual:.3f}", f"{dual - plain:+.3f}"]
        import_rows.append(row)
    print("imports, 1 table, warm reuse: self time by package from python -X importtime (s; importtime's own "
          "overhead included)")
    print(tabulate(import_rows, headers=["package", "bytecode on: plain", "dual", "added",
                                         "off: plain", "dual", "added"]))
    print()

    off_rows = []
    for python in pythons:
        plain = median(r["whole"] for r in off[python, "plain"])
        dual = median(r["whole"] for r in off[python, "reuse"])
        hooked = sorted(m for m in off[python, "reuse"][0]["hooked"] if m.split(".")[0] == "dualdb")
        rewrite = median(sum(t for m, t in r["rewrite"].items() if m.split(".")[0] == "dualdb")
                         for r in off[python, "reuse"])
        rewrite_plain = median(sum(t for m, t in r["rewrite"].items() if m.split(".")[0] == "dualdb")
                               for r in off[python, "plain"])
        off_rows.append([kinds[python].split()[0], python, f"{plain:.2f}", f"{dual:.2f}", f"{dual - plain:+.2f}",
                         f"{len(hooked)}", f"{rewrite:.3f}", f"{rewrite_plain:.3f}"])
    print("bytecode off (PYTHONDONTWRITEBYTECODE=1, no rewritten pycs), 1 table, warm reuse, whole process (s)")
    print(tabulate(off_rows, headers=["install", "python", "no --dual-db", "--dual-db", "added",
                                      "dualdb modules rewritten", "their rewrite s (dual)", "(no --dual-db)"]))
    worst_rewrite = max(float(row[6]) for row in off_rows)
    print(f"target: the plugin's modules <= 0.1 s of assertion rewriting per process: worst {worst_rewrite:.3f} s "
          f"({'met' if worst_rewrite <= 0.1 else 'NOT met'})")
    for python in pythons:
        hooked = sorted(m for m in off[python, "reuse"][0]["hooked"] if m.split(".")[0] == "dualdb")
        if hooked:
            print(f"rewritten by pytest ({kinds[python].split()[0]} install): {', '.join(hooked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
