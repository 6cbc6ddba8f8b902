"""pytest-dualdb: run database tests on SQLite and PostgreSQL and report divergences."""
__version__ = "0.1.0"
