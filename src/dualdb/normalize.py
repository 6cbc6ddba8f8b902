"""Canonical, JSON-able rendering of values so that equal data compares equal.

sqllogictest-style: every value a leg saw is turned into a canonical form,
and the two legs' forms are compared. Two drivers hand back the same data in
different Python shapes; comparing raw objects would flag all of that, so the
canonical form erases exactly the differences the application cannot notice
and keeps the ones it can:

============================  ==============================================
erased (compares equal)       kept (a real difference)
============================  ==============================================
``Decimal('1.50')`` / ``1.5``  ``1.5`` vs ``'1.5'`` (number vs string)
``1`` / ``True`` in a         ``1`` vs ``True`` when the column is *not*
``Boolean`` column             Boolean (SQLite has no boolean: the app sees 1)
dict key order (JSON)          ``'{"a": 1}'`` (JSON text) vs ``{"a": 1}``
floats within 12 significant   ``2.67`` vs ``2.68``
digits (binary vs decimal)
                               naive vs aware datetime (``$dt`` vs ``$dtz``)
============================  ==============================================

Numbers: a ``Decimal`` and a ``float`` are equal when they agree to
``SIGNIFICANT_DIGITS`` (12) significant digits — SQLite stores NUMERIC as a
binary double, PostgreSQL as an exact decimal, so ``0.1 + 0.2`` is
``0.30000000000000004`` on one and ``0.3`` on the other; nobody's test means
that. Integral values become ``int`` (``Decimal('2.00')`` -> ``2``).

Harness noise is masked rather than compared: a clock value inside the leg's
*clock window* (the leg's start .. end, plus a few seconds) was taken from the
clock — ``now()``, ``CURRENT_TIMESTAMP``, ``datetime.now()`` defaults, a
response's ``"created_at": "2026-…Z"``, ``time.time()`` — and would differ
between the legs of any test. Every form is recognised: ``datetime``,
``date`` and ``time`` objects, ISO-8601 text (``T`` or space, with ``Z``,
``+00:00`` or naive) and epoch numbers (seconds, milliseconds, microseconds).
Each becomes ``{"$masked": "clock", ...}`` that keeps its *form*, because the
form is what differs between engines and is real: naive vs aware
(``aware``), whole seconds vs fractions (``frac``: SQLite's
``CURRENT_TIMESTAMP`` has no fraction, PostgreSQL's ``now()`` has six digits;
compared on what the test observed and on text, not on every ORM row's
datetime objects, ``fraction_form``),
and for text the layout (``text``: separator, fraction digits, offset style),
for numbers the unit (``epoch``). Random UUIDs (version 4, as objects or text)
become ``{"$masked": "uuid4"}``.

Large values are bounded: text longer than ``max_text`` characters (and bytes
longer than ``max_bytes``) is kept as a prefix plus its length and hash, so it
still compares exactly but costs a fixed amount of memory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

SIGNIFICANT_DIGITS = 12
UUID4_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", re.I)
ADDRESS_RE = re.compile(r" at 0x[0-9a-fA-F]+")
CLOCK_SLACK = dt.timedelta(seconds=5)
MAX_DEPTH = 12
MAX_TEXT = 1000
MAX_BYTES = 256
TEXT_PREFIX = 80
DATETIME_CACHE = 4096

# Masks are shared constants: normalised values are never mutated, and a leg's
# rows may hold thousands of them.
MASK_UUID = {"$masked": "uuid4"}
_CLOCK_MASKS: dict[tuple, dict] = {}
ISO_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:([T ])(\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
# epoch numbers: (smallest plausible value, seconds per unit)
EPOCH_UNITS = (("s", 1e9, 1.0), ("ms", 1e12, 1e-3), ("us", 1e15, 1e-6))
EPOCH_MIN = 1_000_000_000
_DATETIME_TAGS: dict[dt.datetime, dict] = {}

# naive ``datetime.now()`` is local time; read it back to UTC with the process's offset
_LOCAL_OFFSET = dt.datetime.now() - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
_LOCAL_OFFSET = dt.timedelta(minutes=round(_LOCAL_OFFSET.total_seconds() / 60))


@dataclasses.dataclass
class Normalizer:
    """Renders values canonically; ``clock_window`` masks timestamps taken during the test.

    The window is ``(start, end)`` in UTC; a datetime inside it (with
    ``CLOCK_SLACK`` either side; naive values read as UTC, or as local time
    for ``datetime.now()``) is assumed to come from the clock.
    """

    clock_window: tuple[dt.datetime, dt.datetime] | None = None
    masked: int = 0
    max_text: int = MAX_TEXT
    max_bytes: int = MAX_BYTES
    fraction_form: bool = True  # compare whether a masked datetime object has a fraction of a second

    def __call__(self, value: Any, type_hint: Any = None) -> Any:
        return self.normalize(value, type_hint)

    def normalize(self, value: Any, type_hint: Any = None, _depth: int = 0) -> Any:
        cls = type(value)
        if cls is str:
            n = len(value)
            if (n == 32 or n == 36) and UUID4_RE.match(value):
                return self._mask_uuid()
            if 10 <= n <= 40 and value[4:5] == "-" and value[:4].isdigit():
                masked = self._clock_text(value)
                if masked is not None:
                    return masked
            if n > self.max_text:
                return _long_text(value)
            # not interned: a leg's values live for a unit of the run at most (agreed pairs drop them),
            # and every string interned grows CPython's interned table for the rest of the process
            return value
        if value is None or cls is bool:
            return value
        if cls is int:
            if type_hint is not None and value in (0, 1) and _is_boolean_type(type_hint):
                return bool(value)
            if value >= EPOCH_MIN and self.clock_window is not None:
                return self._clock_number(value)
            return value
        if cls is float:
            if value >= EPOCH_MIN and self.clock_window is not None:
                masked = self._clock_number(value)
                if masked is not value:
                    return masked
            return _number(value)
        if cls is decimal.Decimal:
            return _number(value)
        if _depth > MAX_DEPTH:
            return {"$repr": _short_repr(value)}
        if isinstance(value, enum.Enum):
            return {"$enum": value.name}
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, (float, decimal.Decimal)):
            return _number(value)
        if isinstance(value, str):
            return self.normalize(str(value), type_hint, _depth)
        if isinstance(value, dt.datetime):
            return self._datetime(value)
        if isinstance(value, dt.date):
            if self._is_clock_date(value):
                return self._clock_mask(form="date")
            return {"$date": value.isoformat()}
        if isinstance(value, dt.time):
            if value.tzinfo is None and self._is_clock_time(value):
                return self._clock_mask(form="time", frac=value.microsecond != 0)
            return {"$time": value.isoformat()}
        if isinstance(value, dt.timedelta):
            return {"$interval": _number(value.total_seconds())}
        if isinstance(value, uuid.UUID):
            return self._mask_uuid() if value.version == 4 else {"$uuid": str(value)}
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            if len(data) > self.max_bytes:
                return {"$bytes": data[:16].hex(), "len": len(data), "sha1": hashlib.sha1(data).hexdigest()}
            return {"$bytes": data.hex()}
        if isinstance(value, Mapping):
            return {
                str(k): self.normalize(v, None, _depth + 1)
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
            }
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
            try:
                return self.normalize(value.model_dump(), None, _depth + 1)
            except Exception:
                pass
        if hasattr(value, "obj") and type(value).__name__ in ("Json", "Jsonb"):  # psycopg JSON wrappers
            return self.normalize(value.obj, None, _depth + 1)
        return {"$repr": _short_repr(value)}

    def row(self, values: Any, processors: list | None = None, types: list | None = None) -> list:
        """One result row: apply SQLAlchemy's result processors, then normalise each value.

        The common plain values (None, bool, small text, int outside Boolean
        columns) are handled inline: this runs for every captured row.
        """
        out = []
        append = out.append
        n_proc = len(processors) if processors else 0
        n_types = len(types) if types else 0
        norm = self.normalize
        max_text = self.max_text
        for i, value in enumerate(values):
            if i < n_proc and value is not None:
                proc = processors[i]
                if proc is not None:
                    try:
                        value = proc(value)
                    except Exception:  # e.g. text that is not JSON stored in a JSON column on SQLite
                        pass
            cls = type(value)
            if value is None or cls is bool:
                append(value)
            elif cls is str and len(value) <= max_text and len(value) not in (32, 36) and not (
                value[4:5] == "-" and value[:4].isdigit()
            ):
                append(value)
            elif cls is int and (i >= n_types or value not in (0, 1)) and value < EPOCH_MIN:
                append(value)
            else:
                append(norm(value, types[i] if i < n_types else None))
        return out

    def values(self, values: Any) -> list:
        """A list of parameter values (no type hints)."""
        return self.row(values)

    def _mask_uuid(self) -> dict:
        self.masked += 1
        return MASK_UUID

    def is_clock(self, value: dt.datetime) -> bool:
        """Whether ``value`` lies in the clock window (was taken from the clock during the test)."""
        if self.clock_window is None:
            return False
        aware = value.tzinfo is not None and value.utcoffset() is not None
        start, end = self.clock_window
        if aware:
            as_utc = value.astimezone(dt.timezone.utc)
        else:
            as_utc = value.replace(tzinfo=dt.timezone.utc)
        if start - CLOCK_SLACK <= as_utc <= end + CLOCK_SLACK:
            return True
        if not aware:
            # naive datetime.now() (local time) rather than utcnow()
            local_utc = as_utc - _LOCAL_OFFSET
            return start - CLOCK_SLACK <= local_utc <= end + CLOCK_SLACK
        return False

    def _clock_mask(self, **form: Any) -> dict:
        """The shared mask of a clock value of this form (masks are never mutated)."""
        self.masked += 1
        key = tuple(sorted(form.items()))
        mask = _CLOCK_MASKS.get(key)
        if mask is None:
            mask = _CLOCK_MASKS[key] = {"$masked": "clock", **form}
        return mask

    def _clock_text(self, text: str) -> dict | None:
        """An ISO-8601 date or timestamp in the clock window, masked with its layout."""
        match = ISO_RE.match(text)
        if match is None or self.clock_window is None:
            return None
        day, sep, clock, fraction, offset = match.groups()
        try:
            if sep is None:
                return self._clock_mask(form="date", text="iso") if self._is_clock_date(dt.date.fromisoformat(day)) else None
            seconds = clock if clock.count(":") == 2 else clock + ":00"
            micro = (fraction or "").ljust(6, "0")[:6]
            moment = dt.datetime.fromisoformat(f"{day}T{seconds}{'.' + micro if fraction else ''}")
            if offset and offset != "Z":
                sign = 1 if offset[0] == "+" else -1
                digits = offset[1:].replace(":", "")
                delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
                moment = moment.replace(tzinfo=dt.timezone(sign * delta))
            elif offset == "Z":
                moment = moment.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return None
        if not self.is_clock(moment):
            return None
        style = "" if not offset else ("Z" if offset == "Z" else ("+hh:mm" if ":" in offset else "+hhmm"))
        layout = f"{sep}{len(fraction or '')}{style}"
        return self._clock_mask(aware=bool(offset), frac=bool(fraction and fraction.strip("0")), text=layout)

    def _clock_number(self, value: int | float) -> Any:
        """An epoch timestamp (seconds, ms or µs) in the clock window, masked with its unit."""
        for unit, smallest, scale in EPOCH_UNITS:
            if smallest <= value < smallest * 1000:
                try:
                    moment = dt.datetime.fromtimestamp(value * scale, dt.timezone.utc)
                except (OverflowError, OSError, ValueError):
                    return value
                if self.is_clock(moment):
                    return self._clock_mask(epoch=unit, number=type(value).__name__)
                return value
        return value

    def _is_clock_date(self, value: dt.date) -> bool:
        if self.clock_window is None:
            return False
        start, end = self.clock_window
        days = {(start - CLOCK_SLACK).date(), (end + CLOCK_SLACK).date(),
                (start - CLOCK_SLACK + _LOCAL_OFFSET).date(), (end + CLOCK_SLACK + _LOCAL_OFFSET).date()}
        return value in days

    def _is_clock_time(self, value: dt.time) -> bool:
        """A time of day inside the window (UTC or local): ``datetime.now().time()``."""
        if self.clock_window is None:
            return False
        start, end = self.clock_window
        if end - start > dt.timedelta(hours=1):
            return False
        for offset in (dt.timedelta(0), _LOCAL_OFFSET):
            moment = dt.datetime.combine((start + offset).date(), value, dt.timezone.utc) - offset
            for shift in (dt.timedelta(0), dt.timedelta(days=1), dt.timedelta(days=-1)):
                if start - CLOCK_SLACK <= moment + shift <= end + CLOCK_SLACK:
                    return True
        return False

    def _datetime(self, value: dt.datetime) -> Any:
        aware = value.tzinfo is not None and value.utcoffset() is not None
        if self.is_clock(value):
            if not self.fraction_form:
                return self._clock_mask(aware=aware)
            return self._clock_mask(aware=aware, frac=value.microsecond != 0)
        # the same fixture datetimes recur in every leg: share their (never mutated) tags
        tag = _DATETIME_TAGS.get(value) if not aware else None
        if tag is None:
            tag = {"$dtz": value.astimezone(dt.timezone.utc).isoformat()} if aware else {"$dt": value.isoformat()}
            if not aware:
                if len(_DATETIME_TAGS) >= DATETIME_CACHE:
                    _DATETIME_TAGS.clear()
                _DATETIME_TAGS[value] = tag
        return tag

    def _mapped(self, value: Any, state: Any, depth: int) -> dict:
        out: dict[str, Any] = {"$obj": type(value).__name__}
        for attr in state.mapper.column_attrs:
            column = attr.columns[0] if attr.columns else None
            hint = getattr(column, "type", None)
            out[attr.key] = self.normalize(state.dict.get(attr.key), hint, depth + 1)
        return out


_NUMBERS: dict[Any, Any] = {}


def _number(value: float | decimal.Decimal) -> Any:
    """Numbers compare by value at 12 significant digits; specials become tags.

    Memoised: test data repeats the same prices and measures in every leg
    (``Decimal('10.50')`` and ``10.5`` are the same key and the same result).
    """
    try:
        found = _NUMBERS.get(value)
    except TypeError:  # a signalling NaN
        found = None
    if found is not None:
        return found
    result = _number_uncached(value)
    if len(_NUMBERS) >= 8192:
        _NUMBERS.clear()
    if not isinstance(result, dict):  # NaN != NaN: never cached
        _NUMBERS[value] = result
    return result


def _number_uncached(value: float | decimal.Decimal) -> Any:
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return {"$float": "NaN"}
        if value.is_infinite():
            return {"$float": "Infinity" if value > 0 else "-Infinity"}
        if value == value.to_integral_value() and abs(value) < 2**63:
            return int(value)
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


def _long_text(value: str) -> dict:
    return {
        "$text": value[:TEXT_PREFIX],
        "len": len(value),
        "sha1": hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest(),
    }


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
    """``repr`` without memory addresses (``<Money at 0x7f..>`` would differ between legs)."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    text = ADDRESS_RE.sub("", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def canonical_text(value: Any) -> str:
    """A stable one-line text form of a normalised value (for sorting, hashing, display)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def normalize(value: Any, type_hint: Any = None) -> Any:
    """Normalise one value without a clock window (for ad-hoc comparisons)."""
    return Normalizer().normalize(value, type_hint)
