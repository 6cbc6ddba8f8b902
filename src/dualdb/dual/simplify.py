"""Making the reported example as small as we can.

Hypothesis's shrinker changes one thing at a time and sometimes stops at
``['aa', 'Å']`` when only two changes together reach ``['a', 'A']``. When
Hypothesis replays its final example, ``assert_same`` hands the divergent
result to ``simplest``, which tries a bounded number of single and paired
simplifications of the call's arguments (the runner runs each in a savepoint
rolled back afterwards) and keeps the simplest call that still diverges the
same way.
"""

from __future__ import annotations

import itertools
import time
import unicodedata
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from dualdb.dual.results import PairedResult
from dualdb.dual.values import fresh_copy

SIMPLIFY_ATTEMPTS = 400
SIMPLIFY_SECONDS = 2.0
_PLAIN = "aAbB"


def simplest(result: PairedResult, diverges_alike: Callable[[tuple], PairedResult | None]) -> PairedResult:
    """The simplest call found that still diverges like ``result`` (``result`` itself if none).

    ``diverges_alike(args)`` runs the call with other arguments and returns its
    result when it diverges the same way, else ``None``. This tries single and
    then paired simplifications of the arguments (drop an item, drop a
    character, replace a character by a plainer one, move a number toward
    zero). Bounded to ``SIMPLIFY_ATTEMPTS`` calls and ``SIMPLIFY_SECONDS``.
    """
    deadline = time.monotonic() + SIMPLIFY_SECONDS
    attempts = 0
    best = result

    def exhausted() -> bool:
        return attempts >= SIMPLIFY_ATTEMPTS or time.monotonic() > deadline

    try:
        while not exhausted():
            found = None
            singles = list(_simpler_args(best.args))
            for candidate in itertools.chain(singles, _pairs(singles)):
                if exhausted():
                    break
                attempts += 1
                found = diverges_alike(candidate)
                if found is not None:
                    break
            if found is None:
                break
            best = found
    except Exception:  # simplifying is a courtesy: never lose the real failure over it
        return best
    return best


def _simpler_args(args: tuple) -> Iterator[tuple]:
    for i, arg in enumerate(args):
        for simpler in _simpler(arg):
            yield args[:i] + (simpler,) + args[i + 1 :]


def _pairs(singles: list[tuple]) -> Iterator[tuple]:
    """Two changes at once: the j-th simplification of the i-th single one, small i + j first."""
    subs: dict[int, list[tuple]] = {}
    for total in range(2 * len(singles) + 8):
        for i in range(min(total, len(singles) - 1), -1, -1):
            if i not in subs:
                subs[i] = list(_simpler_args(singles[i]))
            j = total - i
            if j < len(subs[i]):
                yield subs[i][j]


def _simpler(value: Any, depth: int = 0) -> Iterator[Any]:
    """Strictly simpler variants of a value, one change each, most drastic first."""
    if depth > 4:
        return
    state = getattr(value, "_sa_instance_state", None)
    if state is not None:
        if hasattr(state, "mapper") and state.key is None and state.session_id is None:
            for attr in state.mapper.column_attrs:  # a generated row: simplify one column at a time
                if attr.key in state.dict:
                    for simpler in _simpler(state.dict[attr.key], depth + 1):
                        clone = fresh_copy(value)
                        setattr(clone, attr.key, simpler)
                        yield clone
        return
    if isinstance(value, bool) or value is None:
        if value is True:
            yield False
        return
    if isinstance(value, str):
        for i in range(len(value)):
            yield value[:i] + value[i + 1 :]
        for i, ch in enumerate(value):
            for plain in _plainer_chars(ch):
                yield value[:i] + plain + value[i + 1 :]
        return
    if isinstance(value, int):
        if value != 0:
            yield 0
            if abs(value) > 1:
                yield value // 2 if value > 0 else -(-value // 2)
        return
    if isinstance(value, float):
        if value != 0 and value == value:
            yield 0.0
            if value != int(value) and abs(value) < 2**53:
                yield float(int(value))
        return
    if isinstance(value, Decimal):
        if value.is_finite() and value != 0:
            yield Decimal(0)
            if value != value.to_integral_value():
                yield value.to_integral_value()
        return
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        items = list(value)
        for i in range(len(items)):
            yield type(value)(items[:i] + items[i + 1 :])
        for i, item in enumerate(items):
            for simpler in _simpler(item, depth + 1):
                yield type(value)(items[:i] + [simpler] + items[i + 1 :])
        return
    if isinstance(value, dict):
        keys = list(value)
        for key in keys:
            yield {k: v for k, v in value.items() if k != key}
        for key in keys:
            for simpler in _simpler(value[key], depth + 1):
                yield {k: (simpler if k == key else v) for k, v in value.items()}


def _plainer_chars(ch: str) -> list[str]:
    """Characters a reader finds plainer than ``ch``: its base letter, then ``a A b B``.

    "Plainer" is a strict order (``a`` < ``A`` < ``b`` < ``B`` < everything else
    by code point), so simplifying always ends.
    """
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    out = []
    for candidate in (base, base.lower(), base.upper(), *_PLAIN):
        if len(candidate) == 1 and _plainness(candidate) < _plainness(ch) and candidate not in out:
            out.append(candidate)
    return out


def _plainness(ch: str) -> int:
    index = _PLAIN.find(ch)
    return index if index >= 0 else len(_PLAIN) + ord(ch)
