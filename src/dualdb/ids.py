"""Test ids: the id a test's two legs share, from pytest's node id of one leg.

A leaf module (it imports nothing of the package but ``config``), because every layer
needs it: report entries, reseeding, xdist units, baseline lines, the probe catalog.
"""

from __future__ import annotations

from dualdb.config import BACKEND_NAMES



def base_nodeid(nodeid: str, backend: str | None = None) -> str:
    """The test id a test's two legs share: ``t.py::test_x[1-sqlite]`` -> ``t.py::test_x[1]``.

    The one place a node id loses its backend (report entries, reseeding, xdist
    units, baseline lines, the probe catalog). pytest joins a test's parameter
    ids with ``-``, the backend's last (the plugin parametrizes last); the
    rightmost id naming ``backend`` is removed, or with no ``backend`` (a node id
    read from a file or from xdist's collection) the rightmost naming either
    backend. Other ids are kept: ``t.py::test_y[a-b]`` is its own test id.
    """
    if not nodeid.endswith("]"):
        return nodeid
    # the parameters start at the first "[" of the test's name: after the path, which ends at "::"
    sep = nodeid.find("::")
    start = nodeid.find("[", sep + 2 if sep >= 0 else 0)
    if start < 0:
        return nodeid
    head, parts = nodeid[:start], nodeid[start + 1 : -1].split("-")
    names = (backend,) if backend else BACKEND_NAMES
    for idx in range(len(parts) - 1, -1, -1):
        if parts[idx] in names:
            del parts[idx]
            break
    else:
        return nodeid
    remaining = "-".join(parts)
    return f"{head}[{remaining}]" if remaining else head
