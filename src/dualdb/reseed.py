"""Give both legs of a test the same generated inputs.

Real suites generate data: ``random``, Faker, factory_boy sequences (which
keep counting across tests, so the legs would create ``user6`` and
``user7``), NumPy. Before each leg everything pytest-randomly reseeds is
reseeded from a seed derived from the test's id (without the backend), so
both legs see identical inputs. Libraries not imported by the test suite are
left alone (importing them just to seed them would slow every run).
"""

from __future__ import annotations

import importlib
import random
import sys
import zlib


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
