"""Canonical, JSON-able rendering of values so that equal data compares equal.

Two drivers hand back the same data in different Python shapes (``Decimal``
vs ``float``, ``1`` vs ``True``, ``dict`` key order). Comparing raw objects
would flag all of that; comparing a canonical form flags only what a user of
the data would notice. Some differences are deliberately *kept*: a naive
datetime never equals an aware one, and a number never equals its string.

Harness noise is masked rather than compared: timestamps taken from the clock
during the test and random UUIDs would differ between the legs of any test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

SIGNIFICANT_DIGITS = 12
UUID4_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", re.I)
CLOCK_SLACK = dt.timedelta(seconds=5)
MAX_DEPTH = 12


@dataclasses.dataclass
class Normalizer:
    """Renders values canonically; ``clock_window`` masks timestamps taken during the test.

    The window is ``(start, end)`` in UTC; a datetime inside it (with a few
    seconds of slack, and ``TimeZone`` applied to naive values as UTC) is
    assumed to come from ``now()``/``datetime.now()`` and becomes a mask that
    still records whether it was aware — that difference is real.
    """

    clock_window: tuple[dt.datetime, dt.datetime] | None = None
    masked: int = 0

    def __call__(self, value: Any, type_hint: Any = None) -> Any:
        return self.normalize(value, type_hint)

    def normalize(self, value: Any, type_hint: Any = None, _depth: int = 0) -> Any:
        if _depth > MAX_DEPTH:
            return {"$repr": _short_repr(value)}
        if value is None or isinstance(value, str) and not _looks_like_uuid4(value):
            return value
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and not isinstance(value, enum.Enum):
            if _is_boolean_type(type_hint) and value in (0, 1):
                return bool(value)
            return value
        if isinstance(value, (float, decimal.Decimal)):
            return _number(value)
        if isinstance(value, str):  # a uuid4 in text form
            return self._mask_uuid()
        if isinstance(value, dt.datetime):
            return self._datetime(value)
        if isinstance(value, dt.date):
            return {"$date": value.isoformat()}
        if isinstance(value, dt.time):
            return {"$time": value.isoformat()}
        if isinstance(value, dt.timedelta):
            return {"$interval": value.total_seconds()}
        if isinstance(value, uuid.UUID):
            return self._mask_uuid() if value.version == 4 else {"$uuid": str(value)}
        if isinstance(value, (bytes, bytearray, memoryview)):
            return {"$bytes": bytes(value).hex()}
        if isinstance(value, enum.Enum):
            return {"$enum": value.name}
        if isinstance(value, Mapping):
            return {str(k): self.normalize(v, None, _depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, (set, frozenset)):
            items = [self.normalize(v, None, _depth + 1) for v in value]
            return sorted(items, key=canonical_text)
        if isinstance(value, (list, tuple)) or _is_row(value):
            return [self.normalize(v, None, _depth + 1) for v in value]
        mapped = _mapped_instance_state(value)
        if mapped is not None:
            return self._mapped(value, mapped, _depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.normalize(dataclasses.asdict(value), None, _depth + 1)
        if hasattr(value, "model_dump"):  # pydantic models
            return self.normalize(value.model_dump(), None, _depth + 1)
        return {"$repr": _short_repr(value)}

    def _mask_uuid(self) -> dict:
        self.masked += 1
        return {"$masked": "uuid4"}

    def _datetime(self, value: dt.datetime) -> Any:
        aware = value.tzinfo is not None and value.utcoffset() is not None
        if self.clock_window is not None:
            as_utc = value.astimezone(dt.timezone.utc) if aware else value.replace(tzinfo=dt.timezone.utc)
            start, end = self.clock_window
            local_naive = value.replace(tzinfo=None)
            local_now = dt.datetime.now()
            in_window = start - CLOCK_SLACK <= as_utc <= end + CLOCK_SLACK
            if not aware and not in_window:
                # naive datetime.now() (local time) rather than utcnow()
                in_window = abs(local_naive - local_now) <= (end - start) + CLOCK_SLACK * 2
            if in_window:
                self.masked += 1
                return {"$masked": "clock", "aware": aware}
        if aware:
            return {"$dtz": value.astimezone(dt.timezone.utc).isoformat()}
        return {"$dt": value.isoformat()}

    def _mapped(self, value: Any, state: Any, depth: int) -> dict:
        out: dict[str, Any] = {"$obj": type(value).__name__}
        for attr in state.mapper.column_attrs:
            column = attr.columns[0] if attr.columns else None
            hint = getattr(column, "type", None)
            out[attr.key] = self.normalize(state.dict.get(attr.key), hint, depth + 1)
        return out


def _number(value: float | decimal.Decimal) -> Any:
    """Numbers compare by value at 12 significant digits; specials become tags."""
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return {"$float": "NaN"}
        if value.is_infinite():
            return {"$float": "Infinity" if value > 0 else "-Infinity"}
        value = float(value)
    if math.isnan(value):
        return {"$float": "NaN"}
    if math.isinf(value):
        return {"$float": "Infinity" if value > 0 else "-Infinity"}
    if value == 0:
        return 0
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if rounded.is_integer() and abs(rounded) < 2**53:
        return int(rounded)
    return rounded


def _looks_like_uuid4(text: str) -> bool:
    return len(text) in (32, 36) and UUID4_RE.match(text) is not None


def _is_boolean_type(type_hint: Any) -> bool:
    if type_hint is None:
        return False
    from sqlalchemy import Boolean

    try:
        return isinstance(type_hint, Boolean) or isinstance(getattr(type_hint, "impl", None), Boolean)
    except TypeError:
        return False


def _is_row(value: Any) -> bool:
    return type(value).__name__ in ("Row", "RowMapping") and hasattr(value, "_mapping")


def _mapped_instance_state(value: Any) -> Any:
    state = getattr(value, "_sa_instance_state", None)
    if state is None or not hasattr(state, "mapper"):
        return None
    return state


def _short_repr(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def canonical_text(value: Any) -> str:
    """A stable one-line text form of a normalised value (for sorting, hashing, display)."""
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def normalize(value: Any, type_hint: Any = None) -> Any:
    """Normalise one value without a clock window (for ad-hoc comparisons)."""
    return Normalizer().normalize(value, type_hint)
