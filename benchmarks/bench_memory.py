"""Peak memory of a 10,000-test ``pytest --dual-db`` run vs the same run on SQLite alone.

Issue #15, item 4: a 10,000-test dual run (each test a few statements and rows)
stays under **1.5x** the peak memory of the same run on SQLite alone.

The benchmark writes a project into a temporary folder — SQLAlchemy ORM models
of three tables (``users``, ``posts`` with a foreign key, ``tags``), ``dualdb_metadata``
in ``pytest.ini``, test modules of three parametrized test functions that each
use the plugin's ``db_session``, insert a couple of rows, commit and query them
— and runs it in a subprocess twice per shape:

* ``pytest`` — the plugin's default backend (SQLite), no capture: the baseline;
* ``pytest --dual-db`` — every test on SQLite and on PostgreSQL (the plugin's
  local server, or ``--dualdb-pg-url=$DUALDB_PG_URL`` when that is set).

Two shapes: ``few`` (3-4 statements per test, 1-2 rows fetched per SELECT) and
``rows20`` (20 rows inserted, three SELECTs fetching 20 rows each, so the memory of
captured rows shows).

Peak memory is the peak RSS of the pytest process itself:
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, read by a small plugin
(``bench_mem.py``, loaded with ``-p bench_mem``) in ``pytest_unconfigure``, i.e.
after the report is written; children (the PostgreSQL server) are not counted.
The same plugin records the RSS at a few points of the run (after collection,
when the first PostgreSQL leg starts, at session finish) to show where it grows.
All runs use ``-q -p no:cacheprovider`` and send the terminal output to a file.

It also runs pytest alone (``-p no:dualdb``, no database) on as many trivial tests,
and on the same tests each run twice through a two-valued fixture parameter, as the
dual run's items are: pytest keeps memory per item (the item, its reports), so twice
the items cost more by themselves; the line under the table says how much of the
ratio that floor is (``--no-floor`` skips it).

``--trace`` additionally runs both commands with ``tracemalloc`` (``--trace-frames``, 1) and
prints, at session finish (before the plugin writes its report) the memory still
allocated, attributed to the innermost frame inside ``dualdb`` (else ``_pytest``,
else the file), a count of the live objects by type, and the bytes (``sys.getsizeof``
over the referents) retained by the plugin's legs (statements, observations, the
rest), pytest's terminal stats (every phase report) and the items — also when
the first PostgreSQL leg starts, where the SQLite legs all wait for their siblings.

    python benchmarks/bench_memory.py [--tests 10000] [--shapes few,rows20] [--no-floor] [--trace [--trace-tests 2000]]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tabulate import tabulate

TARGET = 1.5
FUNCTIONS_PER_MODULE = 3
TESTS_PER_MODULE = 500  # 20 modules for 10,000 tests, as a real suite spreads its tests

MODELS = '''
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(120), unique=True)
    posts: Mapped[list["Post"]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    score: Mapped[int] = mapped_column(Integer, default=0)
    author: Mapped[User] = relationship(back_populates="posts")


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
'''

# a few statements per test: INSERTs of 2-3 rows, one or two SELECTs of 1-2 rows
FEW = '''
import pytest
from sqlalchemy import func, select
from models import Post, Tag, User


@pytest.mark.parametrize("n", range({p0}))
def test_user_posts(db_session, n):
    user = User(name=f"u{{n}}", email=f"u{{n}}@example.com")
    db_session.add_all([user, Post(author=user, title="a", score=n), Post(author=user, title="b", score=n + 1)])
    db_session.commit()
    titles = db_session.scalars(select(Post.title).where(Post.user_id == user.id).order_by(Post.title)).all()
    assert titles == ["a", "b"]


@pytest.mark.parametrize("n", range({p1}))
def test_tags(db_session, n):
    db_session.add_all([Tag(name=f"python{{n}}"), Tag(name=f"sql{{n}}")])
    db_session.commit()
    found = db_session.scalars(select(Tag).where(Tag.name.like("python%"))).all()
    assert [t.name for t in found] == [f"python{{n}}"]


@pytest.mark.parametrize("n", range({p2}))
def test_count(db_session, n):
    db_session.add(User(name="x", email=f"x{{n}}@example.com"))
    db_session.flush()
    assert db_session.scalar(select(func.count()).select_from(User)) == 1
'''

# the rows show: 20 rows inserted, three SELECTs of 20 rows
ROWS20 = '''
import pytest
from sqlalchemy import select
from models import Post, Tag, User


@pytest.mark.parametrize("n", range({p0}))
def test_user_posts(db_session, n):
    user = User(name=f"u{{n}}", email=f"u{{n}}@example.com")
    db_session.add_all([user, *[Post(author=user, title=f"post {{i}} of user {{n}}", score=i) for i in range(20)]])
    db_session.commit()
    posts = db_session.scalars(select(Post).where(Post.user_id == user.id).order_by(Post.score)).all()
    assert len(posts) == 20
    rows = db_session.execute(select(Post.id, Post.title, User.name).join(User).order_by(Post.id)).all()
    assert len(rows) == 20
    assert len(db_session.execute(select(Post.title, Post.score).where(Post.score >= 0)).all()) == 20


@pytest.mark.parametrize("n", range({p1}))
def test_tags(db_session, n):
    db_session.add_all([Tag(name=f"tag{{i}}-{{n}}") for i in range(20)])
    db_session.commit()
    assert len(db_session.scalars(select(Tag).order_by(Tag.name)).all()) == 20
    assert len(db_session.scalars(select(Tag.name).where(Tag.name.like("tag%"))).all()) == 20
    assert len(db_session.execute(select(Tag.id, Tag.name)).all()) == 20


@pytest.mark.parametrize("n", range({p2}))
def test_scores(db_session, n):
    user = User(name="s", email=f"s{{n}}@example.com")
    db_session.add_all([user, *[Post(author=user, title="t", score=i * n) for i in range(20)]])
    db_session.flush()
    assert len(db_session.scalars(select(Post.score).order_by(Post.score.desc())).all()) == 20
    assert len(db_session.execute(select(Post).where(Post.title == "t")).all()) == 20
    assert len(db_session.execute(select(User.id, Post.id).join(Post)).all()) == 20
'''

SHAPES = {"few": FEW, "rows20": ROWS20}

# loaded with -p bench_mem: peak RSS of this process, RSS at a few points, optional tracemalloc
MEM_PLUGIN = '''
import gc, json, os, resource, sys, time
from collections import Counter

import pytest

OUT = os.environ["BENCH_MEM_OUT"]
TRACE = int(os.environ.get("BENCH_TRACE") or 0)
_points = {}
_seen_pg = False

if TRACE:
    import tracemalloc
    tracemalloc.start(TRACE)


def _status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def _point(name):
    _points[name] = _status()


def pytest_collection_finish(session):
    session.config._bench_session = session
    _point("collected")


_config = None


def pytest_configure(config):
    global _config
    _config = config


def pytest_runtest_logstart(nodeid, location):
    global _seen_pg
    if not _seen_pg and nodeid.endswith("postgresql]"):
        _seen_pg = True
        _point("first_postgresql_leg")
        if TRACE:
            _sizes_at["first_postgresql_leg"] = _sizes(_config)


_sizes_at = {}
_SKIP = None


def _deep(roots, seen):
    """Bytes reachable from roots (sys.getsizeof), not through modules, classes, functions, pytest nodes."""
    global _SKIP
    import types
    if _SKIP is None:
        from _pytest.config import Config
        from _pytest.fixtures import FixtureDef
        from _pytest.nodes import Node
        _SKIP = (types.ModuleType, type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                 types.CodeType, types.FrameType, Node, Config, FixtureDef)
    total, stack = 0, list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _sizes(config):
    from dualdb.plugin.stash import STATE_KEY
    state = config.stash.get(STATE_KEY, None)
    legs = state.legs if state is not None else {}
    seen = set()
    out = {}
    payloads = [leg for by_backend in legs.values() for leg in by_backend.values()]
    out["legs"] = len(payloads)
    out["legs_with_statements"] = sum(1 for leg in payloads if leg.statements)
    out["statement_records"] = sum(len(leg.statements) for leg in payloads)
    out["statements_bytes"] = _deep([leg.statements for leg in payloads], seen)
    out["observations_bytes"] = _deep([leg.observations for leg in payloads], seen)
    out["legs_rest_bytes"] = _deep([legs], seen)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    out["reports"] = sum(len(v) for v in tr.stats.values()) if tr else 0
    out["terminal_stats_bytes"] = _deep([tr.stats] if tr else [], seen)
    session = getattr(config, "_bench_session", None)
    items = list(session.items) if session is not None else []
    out["items"] = len(items)
    out["items_bytes"] = sum(_deep([gc.get_referents(i)], seen) for i in items)
    return out


def _where(frames):
    """The innermost frame of the plugin, else of pytest, else the allocating file."""
    for marker in ("/dualdb/", "/_pytest/", "/pluggy/"):
        for frame in frames:  # most recent first
            if marker in frame.filename:
                name = frame.filename.split(marker, 1)[1]
                return f"{marker.strip('/')}/{name}:{frame.lineno}"
    frame = frames[0]
    return f"{frame.filename.rsplit('/site-packages/', 1)[-1]}:{frame.lineno}"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    _point("sessionfinish")
    if not TRACE:
        return
    data = {}
    current, peak = tracemalloc.get_traced_memory()
    data["traced_current"], data["traced_peak"] = current, peak
    snapshot = tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    ])
    by_site = Counter()
    by_file = Counter()
    for stat in snapshot.statistics("traceback"):
        site = _where(list(stat.traceback)[::-1])  # oldest first in tracemalloc: innermost first here
        by_site[site] += stat.size
        by_file[site.rsplit(":", 1)[0]] += stat.size
    data["sites"] = by_site.most_common(40)
    data["files"] = by_file.most_common(25)
    gc.collect()
    types = Counter(type(o).__name__ for o in gc.get_objects())
    data["types"] = types.most_common(20)
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    data["terminal_stats"] = {k: len(v) for k, v in (tr.stats if tr else {}).items()}
    _sizes_at["sessionfinish"] = _sizes(session.config)
    data["sizes"] = _sizes_at
    with open(OUT + ".trace.json", "w") as f:
        json.dump(data, f)


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    _point("terminal_summary")  # after the plugin wrote its report (its sessionfinish is trylast)


def pytest_unconfigure(config):
    _point("unconfigure")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extra = {}
    if TRACE:
        extra["traced_peak_end"] = tracemalloc.get_traced_memory()[1]
    with open(OUT, "w") as f:
        json.dump({"maxrss_kb": peak_kb, "points": _points, **extra}, f)
'''


def write_project(folder: Path, tests: int, shape: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "models.py").write_text(MODELS)
    (folder / "bench_mem.py").write_text(MEM_PLUGIN)
    per_module = min(TESTS_PER_MODULE, tests)
    modules, remaining = [], tests
    while remaining > 0:
        count = min(per_module, remaining)
        modules.append(count)
        remaining -= count
    for index, count in enumerate(modules):
        q, r = divmod(count, FUNCTIONS_PER_MODULE)  # exactly `count` tests in the module
        per = {f"p{i}": q + (1 if i < r else 0) for i in range(FUNCTIONS_PER_MODULE)}
        (folder / f"test_app_{index:02d}.py").write_text(textwrap.dedent(SHAPES[shape].format(**per)))
    ini = "[pytest]\npythonpath = .\ndualdb_metadata = models:Base\n"
    (folder / "pytest.ini").write_text(ini)


def run(folder: Path, args: list[str], trace: int = 0) -> dict:
    out = folder / "mem.json"
    out.unlink(missing_ok=True)
    log = folder / "pytest-output.txt"
    env = {**os.environ, "BENCH_MEM_OUT": str(out), "BENCH_TRACE": str(trace)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(folder)) if p)
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-p", "bench_mem", "--no-header", "-o", "console_output_style=classic", *args]
    started = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(argv, cwd=folder, env=env, stdout=f, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed in {folder} {args}:\n{log.read_text()[-4000:]}")
    result = json.loads(out.read_text())
    result["wall"] = elapsed
    trace_file = Path(str(out) + ".trace.json")
    if trace_file.exists():
        result["trace"] = json.loads(trace_file.read_text())
        trace_file.unlink()
    result["summary"] = next((line for line in reversed(log.read_text().splitlines()) if " passed" in line), "?")
    return result


FLOOR_MODULE = """
import pytest

@pytest.fixture{params}
def leg(request):
    return getattr(request, "param", "sqlite")

@pytest.mark.parametrize("n", range({count}))
def test_x(leg, n):
    assert n >= 0
"""


def pytest_floor(tmp: Path, tests: int) -> tuple[int, int]:
    """Peak RSS (KB) of pytest alone (no plugin, no database) running ``tests`` trivial tests,
    and the same tests each run twice through a two-valued fixture parameter, as the dual
    run's items are: the part of the ratio that pytest's own per-item memory sets."""
    peaks = []
    for legs, params in ((1, ""), (2, '(params=["sqlite", "postgresql"])')):
        folder = tmp / f"floor-{legs}"
        folder.mkdir()
        (folder / "bench_mem.py").write_text(MEM_PLUGIN)
        per_module = min(TESTS_PER_MODULE, tests)
        for index in range(-(-tests // per_module)):
            count = min(per_module, tests - index * per_module)
            (folder / f"test_floor_{index:02d}.py").write_text(FLOOR_MODULE.format(params=params, count=count))
        (folder / "pytest.ini").write_text("[pytest]\n")
        peaks.append(run(folder, ["-p", "no:dualdb"])["maxrss_kb"])
    return peaks[0], peaks[1]


def dual_args() -> list[str]:
    url = os.environ.get("DUALDB_PG_URL")
    return ["--dual-db", *([f"--dualdb-pg-url={url}"] if url else [])]


def mb(kb: float) -> str:
    return f"{kb / 1024:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--shapes", default="few,rows20")
    parser.add_argument("--no-floor", action="store_true", help="skip the pytest-alone runs")
    parser.add_argument("--trace", action="store_true", help="also a tracemalloc run of the dual shape(s)")
    parser.add_argument("--trace-tests", type=int, default=2000)
    parser.add_argument("--trace-frames", type=int, default=1)
    args = parser.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]
    rows, traces, floor = [], {}, None
    with tempfile.TemporaryDirectory(prefix="dualdb-bench-memory-") as tmp:
        if not args.no_floor:
            floor = pytest_floor(Path(tmp), args.tests)
        for shape in shapes:
            folder = Path(tmp) / f"{shape}-{args.tests}"
            write_project(folder, args.tests, shape)
            sqlite = run(folder, [])
            dual = run(folder, dual_args())
            ratio = dual["maxrss_kb"] / sqlite["maxrss_kb"]
            pts = dual["points"]
            spts = sqlite["points"]
            rows.append([
                shape, args.tests,
                mb(sqlite["maxrss_kb"]), f"{sqlite['wall']:.0f}",
                mb(dual["maxrss_kb"]), f"{dual['wall']:.0f}",
                f"{ratio:.2f}x", f"{TARGET:.1f}x", "yes" if ratio <= TARGET else "NO",
                "/".join(mb(pts.get(p, {}).get("VmRSS", 0)) for p in
                         ("collected", "first_postgresql_leg", "sessionfinish", "terminal_summary", "unconfigure")),
                "/".join(mb(spts.get(p, {}).get("VmRSS", 0)) for p in ("collected", "sessionfinish", "unconfigure")),
            ])
            print(f"# {shape}: sqlite {sqlite['summary']!r}; dual {dual['summary']!r}", file=sys.stderr)
            if args.trace:
                tfolder = Path(tmp) / f"{shape}-{args.trace_tests}"
                write_project(tfolder, args.trace_tests, shape)
                traces[shape] = (run(tfolder, [], trace=args.trace_frames),
                                 run(tfolder, dual_args(), trace=args.trace_frames))
    print(tabulate(rows, headers=[
        "shape", "tests", "SQLite peak RSS MB", "SQLite wall s", "dual peak RSS MB", "dual wall s",
        "ratio", "target", "met", "dual RSS MB: collected/1st PG leg/sessionfinish/report written/end",
        "SQLite RSS MB: collected/sessionfinish/end",
    ], tablefmt="github"))
    if floor is not None:
        one, two = floor
        print(f"\npytest alone (no plugin, no database), {args.tests} trivial tests: {mb(one)} MB; each run twice "
              f"through a two-valued fixture parameter: {mb(two)} MB, {two / one:.2f}x. Added to the SQLite-only "
              f"peaks above, pytest's own cost of the second {args.tests} items alone gives "
              + ", ".join(f"{r[0]} {(float(r[2]) * 1024 + two - one) / (float(r[2]) * 1024):.2f}x" for r in rows) + ".")
    print("\npeak RSS: getrusage(RUSAGE_SELF).ru_maxrss of the pytest process, read in pytest_unconfigure "
          "(children such as the PostgreSQL server not counted); wall: whole subprocess.")
    for shape, (sqlite, dual) in traces.items():
        print(f"\n## tracemalloc, shape {shape}, {args.trace_tests} tests, at session finish (before the report)")
        for name, result in (("sqlite", sqlite), ("dual", dual)):
            t = result["trace"]
            print(f"\n{name}: traced now {t['traced_current'] / 2**20:.1f} MB, peak before report "
                  f"{t['traced_peak'] / 2**20:.1f} MB, peak incl. report {result.get('traced_peak_end', 0) / 2**20:.1f} MB; "
                  f"maxrss {mb(result['maxrss_kb'])} MB; terminal stats {t['terminal_stats']}")
            print(tabulate([[f, f"{s / 2**20:.2f}"] for f, s in t["files"][:15]], headers=["where (file)", "MB"],
                           tablefmt="github"))
            if name == "dual":
                print(tabulate([[f, f"{s / 2**20:.2f}"] for f, s in t["sites"][:25]], headers=["where (line)", "MB"],
                               tablefmt="github"))
            print(tabulate(t["types"][:12], headers=["type", "live objects"], tablefmt="github"))
            for when, sizes in t.get("sizes", {}).items():
                print(f"retained at {when}: " + ", ".join(
                    f"{k}={v / 2**20:.1f} MB" if k.endswith("_bytes") else f"{k}={v}" for k, v in sizes.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
