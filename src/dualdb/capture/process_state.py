"""Keep one leg's changes to process state away from the other leg.

The two legs of a test run in one process, and with ``--dual-db`` pytest runs
every SQLite leg before every PostgreSQL leg (the backend is a session-scoped
parameter). A test that sets ``os.environ[...]`` without ``monkeypatch`` would
otherwise change what the *other* engine's legs see: a feature flag set by a
later SQLite leg is already on when an earlier test's PostgreSQL leg runs — a
divergence the engines never caused.

Each backend gets its own timeline of the environment: a leg starts from the
environment its backend's previous leg left (so a suite whose tests depend on
each other's leaks behaves on each engine as it does without the plugin), and
the process environment is put back after the leg. Random, Faker and
factory_boy state is reseeded per leg elsewhere (``reseed``).

The operating system's randomness is made repeatable the same way: during a
leg ``os.urandom`` (and ``random.SystemRandom``, hence ``secrets`` and
``uuid4``, and the salts bcrypt and argon2 draw) returns bytes from a
generator seeded with the leg's seed, so both legs of a test issue the same
tokens and salts — also the ones that never reach the database (a token sent
back in a response while only its hash is stored). Nothing that outlives the
leg should use it: the plugin's own names come from ``system_token_hex``.
"""

from __future__ import annotations

import os
import random

_SYSTEM_URANDOM = os.urandom
_RANDOM_URANDOM = getattr(random, "_urandom", None)


def system_token_hex(nbytes: int) -> str:
    """Random hex from the operating system, even during a leg (names of databases, files)."""
    return _SYSTEM_URANDOM(nbytes).hex()


class SeededEntropy:
    """``os.urandom`` drawn from a seeded generator while a leg runs."""

    def __init__(self) -> None:
        self.active = False

    def enter(self, seed: int) -> None:
        generator = random.Random(seed ^ 0x5EED_0B5)

        def urandom(size: int) -> bytes:
            return generator.randbytes(size)

        os.urandom = urandom
        if _RANDOM_URANDOM is not None:
            random._urandom = urandom  # SystemRandom, and through it `secrets`
        self.active = True

    def leave(self) -> None:
        if not self.active:
            return
        os.urandom = _SYSTEM_URANDOM
        if _RANDOM_URANDOM is not None:
            random._urandom = _RANDOM_URANDOM
        self.active = False


class EnvironTimelines:
    """``os.environ`` as each backend's legs left it."""

    def __init__(self) -> None:
        self._by_backend: dict[str, dict[str, str]] = {}
        self._outside: dict[str, str] | None = None

    def enter(self, backend: str) -> None:
        """Before a leg: the environment as this backend's previous leg left it."""
        current = dict(os.environ)
        self._outside = current
        _replace(self._by_backend.setdefault(backend, current))

    def leave(self, backend: str) -> None:
        """After a leg: remember what it left for the next leg of its backend; restore the rest."""
        self._by_backend[backend] = dict(os.environ)
        if self._outside is not None:
            _replace(self._outside)
            self._outside = None


def _replace(wanted: dict[str, str]) -> None:
    """Make ``os.environ`` equal to ``wanted``, touching only the keys that differ."""
    for key in [k for k in os.environ if k not in wanted]:
        del os.environ[key]
    for key, value in wanted.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
