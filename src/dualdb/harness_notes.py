"""Every fixed note the harness attaches to a test, in one place.

A harness note says that a finding may come from the isolation itself (one
transaction per test, PostgreSQL's frozen ``now()``, a lock the test's own
transaction holds) rather than from the application, and what to do about it.
The notes are shown next to a verdict, or appended to a database error
(those start with ``dualdb:`` so the outcome keeps them). A leaf module: any
layer may name a note.
"""

from __future__ import annotations

CLOCK_NOTE = (
    "The values that differ were taken from the clock during the test; they are masked in the "
    "report and only their form is compared (naive vs aware, whole seconds vs fractions, text "
    "layout), so what differs is the form each engine gives the timestamp, not the moment."
)

TIE_NOTE = (
    "Rows tied on a clock value came back in another order; not reported as a divergence "
    "because PostgreSQL's now() is frozen inside the test transaction. Add a tiebreaker to "
    "ORDER BY if the application relies on that order."
)

FROZEN_NOW_NOTE = (
    "PostgreSQL's now() is frozen for the whole test transaction: several statements of this "
    "test got the same timestamp from the database clock, where the application's requests "
    "(each in its own transaction) would get different ones. Timestamps masked as clock values "
    "are not compared; if the application orders or compares rows by such a column, add a "
    "tiebreaker to ORDER BY (e.g. the primary key) so ties cannot reorder rows."
)

ABORTED_NOTE = (
    "PostgreSQL refused a statement because an earlier one failed in the same transaction. The whole "
    "test runs in one transaction here; with autocommit, or a new transaction per request, production "
    "might not hit this. It is still an application bug: wrap the statement that may fail in a "
    "savepoint (`with session.begin_nested():`) or roll back before going on"
)

LOCK_HINT = (
    "dualdb: the statement waited too long for a lock. The test's own rolled-back transaction "
    "probably holds it (a second connection of the same test is blocked by db_connection's "
    "uncommitted writes); use db_fresh_engine for tests that need several connections"
)

KEPT_OWN_WRITES_NOTE = (
    "a session rolled back after another session of the test had committed inside its "
    "transaction: on one connection SQL cannot undo the first session's writes without "
    "the second's, so the harness kept both (separate connections would have undone only "
    "the first); use db_fresh_engine for a test that depends on this"
)

LOST_FOREIGN_WORK_NOTE = (
    "after a database error, rolling back one session also undid another session's "
    "commit made inside it (PostgreSQL allows nothing else on an aborted transaction)"
)
