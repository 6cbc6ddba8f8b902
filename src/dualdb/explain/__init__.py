"""Knowledge base: name the category of a divergence, say why the engines differ and how to fix it.

Each rule looks at a test entry — the two legs' errors, the SQL they ran and
the shape of the first difference — and either matches or not. The first
matching rule (most specific first) wins.
"""

from __future__ import annotations

from dualdb.explain.rules import Finding, explain_entry, RULES

__all__ = ["Finding", "explain_entry", "RULES"]
