"""A serial dual run's order: units of whole tests, each unit's SQLite legs, then its PostgreSQL legs."""

from __future__ import annotations

from dualdb.run.pairing import serial_order


def leg(module: str, test: int, backend: str) -> tuple[str, str]:
    return (f"{module}::test_x[{test}-{backend}]", backend)


def pytest_order(tests: list[tuple[str, int]], plain_after: int | None = None) -> list:
    """What pytest's reordering of the session-scoped backend gives: every SQLite leg, then every PostgreSQL leg."""
    items: list = [leg(m, t, "sqlite") for m, t in tests]
    if plain_after is not None:
        items.insert(plain_after, None)  # a test using no database, among the SQLite legs
    return items + [leg(m, t, "postgresql") for m, t in tests] + [None]


def names(items: list, order: list[int]) -> list[str]:
    return [items[p][0] if items[p] else f"plain{p}" for p in order]


def test_a_suite_of_one_unit_keeps_pytests_order():
    items = pytest_order([("a.py", i) for i in range(5)] + [("b.py", 0)], plain_after=5)
    assert serial_order(items, size=10) == list(range(len(items)))


def test_units_cut_the_run_order_across_modules_and_keep_each_engines_order():
    tests = [("a.py", i) for i in range(5)] + [("b.py", 0)]
    items = pytest_order(tests, plain_after=5)
    got = names(items, serial_order(items, size=2))
    assert got == [
        "a.py::test_x[0-sqlite]", "a.py::test_x[1-sqlite]", "a.py::test_x[0-postgresql]", "a.py::test_x[1-postgresql]",
        "a.py::test_x[2-sqlite]", "a.py::test_x[3-sqlite]", "a.py::test_x[2-postgresql]", "a.py::test_x[3-postgresql]",
        "a.py::test_x[4-sqlite]", "plain5", "b.py::test_x[0-sqlite]", "a.py::test_x[4-postgresql]",
        "b.py::test_x[0-postgresql]", "plain13",
    ]
    # every item once; the SQLite legs, and the PostgreSQL legs, each in pytest's order
    assert sorted(got) == sorted(names(items, range(len(items))))
    for backend in ("sqlite", "postgresql"):
        assert [n for n in got if backend in n] == [n for n in names(items, range(len(items))) if backend in n]


def test_a_shuffled_order_is_kept_and_a_lone_leg_stays():
    # pytest-randomly's order within the engines; b.py's test selected on PostgreSQL only (-k)
    shuffled = [("a.py", 3), ("a.py", 0), ("a.py", 2), ("a.py", 1)]
    items = [leg(m, t, "sqlite") for m, t in shuffled] + [leg("b.py", 0, "postgresql")]
    items += [leg(m, t, "postgresql") for m, t in reversed(shuffled)]
    got = names(items, serial_order(items, size=2))
    assert got == [
        "a.py::test_x[3-sqlite]", "a.py::test_x[0-sqlite]", "a.py::test_x[0-postgresql]", "a.py::test_x[3-postgresql]",
        "a.py::test_x[2-sqlite]", "a.py::test_x[1-sqlite]", "b.py::test_x[0-postgresql]",
        "a.py::test_x[1-postgresql]", "a.py::test_x[2-postgresql]",
    ]
