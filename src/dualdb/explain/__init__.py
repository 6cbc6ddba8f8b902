"""Knowledge base: name the category of a divergence, say why the engines differ and how to fix it.

``rules.py`` is the catalog for test divergences: each rule looks at a test entry — the two
legs' errors, the SQL they ran and the shape of the first difference — and either matches or
not; the first matching rule (most specific first) wins. ``facts.py`` extracts what rules look
at, ``fallback.py`` explains what no rule matched, and ``migrations.py`` explains schema
findings (a migration failing on one engine, one-engine drift).

The catalog is imported on first use (``explain_entry``, ``RULES``, ``Finding`` below), so
code that needs only the schema explanations does not pay for the rules and their parser.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Finding", "explain_entry", "RULES"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from dualdb.explain import rules

        return getattr(rules, name)
    raise AttributeError(f"module 'dualdb.explain' has no attribute {name!r}")
