"""The teaching catalog of SQLite/PostgreSQL divergences, run by ``dualdb probes``.

Two probe files need an integration the plugin leaves optional; without its
extra they are not collected, and ``dualdb probes`` says which extra brings them.
"""

from __future__ import annotations

import importlib.util

# probe file -> (the module it needs, the pytest-dualdb extra that installs it)
OPTIONAL_PROBES = {
    "test_api.py": ("fastapi", "fastapi"),
    "test_differential.py": ("hypothesis", "hypothesis"),
}


def unavailable_probes() -> dict[str, str]:
    """Probe files whose integration is not installed, with the extra to install for each."""
    missing = {}
    for name, (module, extra) in OPTIONAL_PROBES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ValueError:  # sys.modules[module] is None
            found = False
        if not found:
            missing[name] = extra
    return missing
