"""Material several test groups share: the inner projects' models (``support.models``) and
helpers about the session's PostgreSQL server (``support.databases``). ``tests/`` is on
``sys.path`` (``pythonpath`` in pyproject.toml), so tests import ``support.…`` whatever their folder."""
