"""Capture: what each leg of a test executed and saw, and the same inputs for both legs.

Statements are captured with SQLAlchemy engine events (SQL, parameters, row
counts, errors); rows as the *application* fetches them, by a cursor subclass on
each driver. What can be known about a statement once is computed once per
compiled statement; everything else waits for the end of the leg.

* ``statement_info`` — what a statement is (harness SQL or not, verb, shape, its
  top-level ORDER BY keys, result column types and SQLAlchemy's result
  processors), cached on the compiled statement.
* ``recorder`` — one leg's record: ``LegRecorder`` and its ``StatementRecord``\\ s
  (rows kept within the limits, the rest digested), the parameters as the report
  lists them (``params_for_report``, ``key_positions``), the frozen-clock harness note.
* ``cursors`` — the sqlite3 and psycopg (sync and async) cursors that hand fetched
  rows to the statement's record.
* ``events`` — ``StatementCapture`` / ``AsyncStatementCapture``, the engine listeners
  that open a record per statement and attach it to the cursor; ``batch_params``.
* ``process_state`` — one leg's ``os.environ`` changes kept from the other engine's
  legs, and ``os.urandom`` drawn from the leg's seed.
* ``reseed`` — ``random``, Faker, factory_boy, NumPy and Hypothesis seeded from the test id.

These modules import only the leaf modules (``sql``, ``normalize``, ``records``,
``harness_notes``) and the drivers. Which engines get a capture (with savepoint
tracking and error notes) is decided in one place, ``engines.instrument``.
"""
