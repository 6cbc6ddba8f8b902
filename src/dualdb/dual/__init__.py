"""The ``dual`` fixture's logic: one test runs the same code on SQLite and on PostgreSQL and compares.

Free of pytest (``plugin/fixtures.py`` adapts it), so it can be used and tested on its own.
The way in is ``dualdb.dual.runner.Paired``.

- ``runner.py``: ``Paired`` (``run``, ``assert_same``, ``example``, ``close``): each engine's
  connection in a rolled-back transaction, a savepoint per Hypothesis example and per call,
  PostgreSQL sequences put back; ``RunStateRecorder`` records a call's statements through the
  plugin's captures.
- ``values.py``: what crosses into and out of each engine's call: per-engine copies of the
  arguments, ORM results refreshed after a commit.
- ``results.py``: ``Raised``, ``PairedResult`` (both engines' results, compared normalised),
  ``DivergenceError`` (what a user sees in the traceback) and finding it, and Hypothesis's
  falsifying example, in what a test raised.
- ``simplify.py``: the simplest call that still diverges the same way, tried when Hypothesis
  replays its final example.
- ``display.py``: the call as a reader would type it; two results side by side.
- ``report_legs.py``: the two legs (and the paired difference) a ``dual`` test gives the report.
"""
