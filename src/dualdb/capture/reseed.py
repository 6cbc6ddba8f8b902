"""Give both legs of a test the same generated inputs.

Real suites generate data: ``random``, Faker, factory_boy sequences (which
keep counting across tests, so the legs would create ``user6`` and
``user7``), NumPy. Before each leg everything pytest-randomly reseeds is
reseeded from a seed derived from the test's id (without the backend), so
both legs see identical inputs. Libraries not imported by the test suite are
left alone (importing them just to seed them would slow every run).

A Hypothesis test (``@given``) run once per engine would draw other examples
on each leg — its own random source, and the example database the first leg
wrote and the second replays — so its legs get the same seed and no database
(``seed_hypothesis``), as ``@hypothesis.seed`` would give them.
"""

from __future__ import annotations

import importlib
import random
import sys
import zlib
from typing import Any, Callable


def seed_for(nodeid: str) -> int:
    """A stable 32-bit seed for a test id."""
    return zlib.crc32(nodeid.encode("utf-8"))


def reseed(seed: int) -> None:
    random.seed(seed)
    _reseed_faker(seed)
    _reseed_factory_boy(seed)
    _reseed_numpy(seed)


def _reseed_faker(seed: int) -> None:
    faker = sys.modules.get("faker")
    if faker is not None and hasattr(faker, "Faker"):
        faker.Faker.seed(seed)


def _reseed_factory_boy(seed: int) -> None:
    if "factory" not in sys.modules:
        return
    try:
        factory_random = importlib.import_module("factory.random")
        factory_base = importlib.import_module("factory.base")
    except ImportError:  # a different package called `factory`
        return
    factory_random.reseed_random(seed)
    base = getattr(factory_base, "BaseFactory", None)
    if base is None:
        return
    for cls in _subclasses(base):
        meta = getattr(cls, "_meta", None)
        if meta is None or getattr(meta, "abstract", False):
            continue
        try:
            cls.reset_sequence(force=True)
        except Exception:  # a factory without a model or sequence: nothing to reset
            pass


def _subclasses(cls: type) -> list[type]:
    out, todo = [], list(cls.__subclasses__())
    while todo:
        sub = todo.pop()
        out.append(sub)
        todo.extend(sub.__subclasses__())
    return out


def _reseed_numpy(seed: int) -> None:
    numpy = sys.modules.get("numpy")
    if numpy is not None and hasattr(numpy, "random"):
        numpy.random.seed(seed % (2**32))


def seed_hypothesis(test: Any, seed: int) -> Callable[[], None]:
    """Give a ``@given`` test this leg's seed and no example database; returns the undo."""
    if not getattr(test, "is_hypothesis_test", False):
        return _nothing
    from hypothesis import settings as Settings

    saved = {name: test.__dict__[name] for name in _HYPOTHESIS_ATTRS if name in test.__dict__}
    if getattr(test, "_hypothesis_internal_use_seed", None) is None:  # an explicit @seed stays
        test._hypothesis_internal_use_seed = seed
    current = getattr(test, "_hypothesis_internal_use_settings", None) or Settings.default
    test._hypothesis_internal_use_settings = Settings(current, database=None)

    def restore() -> None:
        for name in _HYPOTHESIS_ATTRS:
            if name in saved:
                setattr(test, name, saved[name])
            else:
                test.__dict__.pop(name, None)

    return restore


_HYPOTHESIS_ATTRS = ("_hypothesis_internal_use_seed", "_hypothesis_internal_use_settings")


def _nothing() -> None:
    return None
