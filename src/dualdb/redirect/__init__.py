"""Redirect mode (``--dualdb-redirect``): a suite as it is, once per engine.

No adapter and no plugin fixtures: the suite keeps its own conftest, its own
engines and its own isolation. The run is split in two pytest-xdist workers
(``--dist each``), one per engine, side by side:

* the SQLite worker runs the suite exactly as it always runs;
* in the PostgreSQL worker, every SQLAlchemy engine the code creates for a
  SQLite URL (``create_engine``, hence ``create_async_engine``,
  ``engine_from_config`` and the frameworks built on them) points at a
  throwaway PostgreSQL namespace instead.

Both workers capture every statement of those engines into the usual legs;
the controller pairs the legs by test id and writes the usual report.

Modules, one job each:

* ``hooks``      the pytest hooks (thin): options, distributing the legs, the leg protocol;
* ``engines``    the hook itself: SQLAlchemy's engine creation, patched in the workers;
* ``arguments``  SQLite-only engine arguments and how each is carried over to PostgreSQL;
* ``namespaces`` SQLite's database identity mapped to PostgreSQL databases and schemas;
* ``capture``    statement capture on the suite's engines; SQLite-only ``PRAGMA`` skipped.

This package's ``__init__`` and ``hooks`` import nothing heavy: the plugin
registers ``hooks`` in every run, redirect or not.
"""

LEG_ENV = "DUALDB_REDIRECT_LEG"  # set per worker through xdist's ``--tx popen//env:...``
SERVER_ENV = "DUALDB_REDIRECT_PG_URL"  # inherited by the workers from the controller
EXTERNAL_ENV = "DUALDB_REDIRECT_PG_EXTERNAL"  # "1": the user's server (record and drop what we create)
LEGS = ("sqlite", "postgresql")
