"""How a paired call and its two results are shown to a reader.

``describe_call`` writes the call as a reader would type it (ORM rows by their
columns, long reprs clipped); ``side_by_side`` lays two normalised values out
as aligned columns, marks the lines that differ and escapes what a terminal
would hide (combining marks, odd spaces, control characters).
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections.abc import Callable
from typing import Any

from dualdb.config import BACKEND_NAMES

REPR_LIMIT = 120
DIFF_WIDTH = 48


class Verbatim(str):
    """A line shown verbatim (not JSON-quoted) in the side-by-side diff."""


def describe_call(fn: Callable[..., Any], args: tuple) -> str:
    """``names_in_order(['a', 'A'])``: the call as a reader would type it (long reprs clipped)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    parts = [_clip(_safe_repr(a)) for a in args]
    return f"{name}({', '.join(parts)})"


def _safe_repr(value: Any) -> str:
    state = getattr(value, "_sa_instance_state", None)
    if state is not None and hasattr(state, "mapper"):
        fields = ", ".join(
            f"{a.key}={state.dict[a.key]!r}"
            for a in state.mapper.column_attrs
            if state.dict.get(a.key) is not None
        )
        return f"{type(value).__name__}({fields})"
    if isinstance(value, list) and value and all(getattr(v, "_sa_instance_state", None) is not None for v in value):
        return "[" + ", ".join(_safe_repr(v) for v in value) + "]"
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _clip(text: str, limit: int = REPR_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pretty(value: Any) -> list[str]:
    if isinstance(value, Verbatim):
        return [str(value)]
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return [_visible(line) for line in text.splitlines()]


def _visible(text: str) -> str:
    """Escape what a terminal would hide: combining marks, odd spaces, controls."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch != " " and (category in ("Mn", "Me", "Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn")):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def side_by_side(left: Any, right: Any, headers: tuple[str, str] = BACKEND_NAMES, width: int = DIFF_WIDTH) -> str:
    """Two normalised values as aligned columns; differing lines are marked with ``!``."""
    la, lb = _pretty(left), _pretty(right)
    rows: list[tuple[str, str, str]] = []
    matcher = difflib.SequenceMatcher(a=la, b=lb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend((" ", la[i1 + k], lb[j1 + k]) for k in range(i2 - i1))
            continue
        a_part, b_part = la[i1:i2], lb[j1:j2]
        for k in range(max(len(a_part), len(b_part))):
            rows.append(("!", a_part[k] if k < len(a_part) else "", b_part[k] if k < len(b_part) else ""))
    col = min(width, max([len(headers[0])] + [len(r[1]) for r in rows]))
    lines = [f"    {headers[0]:<{col}} | {headers[1]}", f"    {'-' * col}-+-{'-' * max(len(headers[1]), 10)}"]
    for mark, a, b in rows:
        a_shown = a if len(a) <= col else a[: col - 1] + "…"
        lines.append(f"  {mark} {a_shown:<{col}} | {b}")
    return "\n".join(lines)
