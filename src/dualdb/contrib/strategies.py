"""Hypothesis strategies aimed at the places where SQLite and PostgreSQL disagree.

Hand-written tests only find the divergences someone thought of. These
strategies make Hypothesis search where the engines are known to part ways,
and the ``dual`` fixture runs each generated input on both::

    from hypothesis import given, strategies as st
    from dualdb.contrib.strategies import text_values

    @given(names=st.lists(text_values(max_size=20), max_size=5))
    def test_search_is_portable(dual, names):
        dual.assert_same(my_search_query, names)

What they generate
------------------
* ``text_values``: mixed case, non-ASCII letters whose case folding is
  special (``ß``, ``İ``/``ı``, final sigma), combining characters,
  whitespace and trailing spaces, the ``LIKE`` metacharacters ``%``, ``_`` and
  ``\\``, and the empty string — mixed with arbitrary text.
* ``json_documents``: nested objects and arrays, several keys (key order),
  ``null``, booleans, integers past 64 bits, floats, ``-0.0``.
* ``integers`` / ``decimals`` / ``floats``: the int2/int4/int8 boundaries,
  ``Decimal`` at and below the column's scale, negative zero, rounding ties
  (``0.5``, ``2.5``) and, where the column allows it, NaN and infinities.
* ``datetimes``: naive or aware, DST gaps and folds, leap days, the epoch,
  microseconds, far past and future.
* ``rows(Model)``: instances of a mapped class whose column values come from
  the column types and constraints (length, precision and scale, nullability,
  enums, simple ``CHECK`` comparisons).

Valid by default
----------------
Every strategy generates only values PostgreSQL accepts for the column *as
declared* (``valid_for="postgresql"``, the default): strings fit their length
and contain no NUL, integers fit their width, decimals their precision.
A differential property should find differences in *semantics*, not a value
one engine rejects at the door — constraint enforcement has its own probes.
Pass ``valid_for=None`` to also generate values outside those limits.

Order matters for shrinking: each strategy lists its simplest values first,
so a failure shrinks to something a reader recognises (``['a', 'A']``, not
``['\\U0001f600x', 'ǅ']``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any

from dualdb.errors import require_extra

st = require_extra("hypothesis.strategies", "hypothesis", "dualdb.hypothesis")  # the [hypothesis] extra

__all__ = [
    "TEXT_FAULT_LINES",
    "datetimes",
    "decimals",
    "floats",
    "integers",
    "json_documents",
    "json_scalars",
    "row_lists",
    "rows",
    "search_terms",
    "strategy_for_column",
    "text_values",
]

POSTGRESQL = "postgresql"

# The characters on text's fault lines. Strings are drawn either from these alone
# (so case pairs, accents and wildcards meet often) or from all of Unicode.
CASE = ["a", "A", "b", "B", "e", "E", "s", "S", "z", "Z"]
WHITESPACE = [" ", "\t", "\n", "\u00a0"]  # trailing spaces; NBSP is not ASCII whitespace
LIKE_META = ["%", "_", "\\"]
NON_ASCII = [
    "é", "É",            # Latin-1 case pair: SQLite's lower()/upper()/LIKE only fold ASCII
    "\u0301",            # combining acute: "e\u0301" looks like "é", is two code points
    "ß", "ẞ",            # German sharp s: upper('ß') is 'SS' in full case mapping
    "ı", "İ", "i", "I",  # Turkish dotless/dotted i
    "σ", "ς", "Σ",       # Greek final sigma
    "ǅ",                 # titlecase digraph
    "ﬁ",                 # ligature
    "Å", "\u212b",       # A-ring and the Angstrom sign (canonically equivalent)
    "ö", "Ö", "ø", "æ", "Æ",
]
PUNCTUATION = ["-", ".", "'", '"', "0", "1", "9"]
TEXT_FAULT_LINES: tuple[str, ...] = tuple(CASE + WHITESPACE + LIKE_META + NON_ASCII + PUNCTUATION)

INT_BOUNDS = {16: (-(2**15), 2**15 - 1), 32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}
NASTY_FLOATS = [0.0, 0.5, -0.0, 1.5, 2.5, -0.5, 0.1, 0.2, 0.3, 1.0, 1e-300, 5e-324, 1.7976931348623157e308,
                9007199254740993.0, 1e16, 123456789.123]
FLOAT_SPECIALS = [float("nan"), float("inf"), float("-inf")]


# -- text ----------------------------------------------------------------------------------


def text_values(
    *,
    min_size: int = 0,
    max_size: int | None = 20,
    like_wildcards: bool = True,
    valid_for: str | None = POSTGRESQL,
) -> st.SearchStrategy[str]:
    """Strings from the text fault lines (``TEXT_FAULT_LINES``), or from all of Unicode.

    ``max_size`` counts characters (PostgreSQL's ``varchar(n)`` does too).
    ``like_wildcards=False`` leaves out ``%``, ``_`` and ``\\`` (for search
    terms the application escapes itself). PostgreSQL text cannot hold NUL,
    so ``\\x00`` only appears with ``valid_for=None``.
    """
    chars = [c for c in TEXT_FAULT_LINES if like_wildcards or c not in LIKE_META]
    exclude = "" if valid_for is None else "\x00"
    if valid_for is None:
        chars.append("\x00")
    if not like_wildcards:
        exclude += "".join(LIKE_META)
    size = {"min_size": min_size, "max_size": max_size}
    return st.one_of(
        st.text(alphabet=st.sampled_from(chars), **size),
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters=exclude or None), **size),
    )


def search_terms(
    text: str, *, max_size: int = 4, like_wildcards: bool = True, valid_for: str | None = POSTGRESQL
) -> st.SearchStrategy[str]:
    """What a user types into a search box to find ``text``: a piece of it, in any case.

    A substring of ``text`` as is, upper-cased, lower-cased or with its case
    swapped — or, less often, unrelated text. ``LIKE``/``ILIKE`` divergences
    need the term to (almost) match, which independent random strings rarely do.
    Use it with ``flatmap`` or ``st.composite``::

        pairs = text_values(max_size=8).flatmap(lambda name: st.tuples(st.just(name), search_terms(name)))
    """
    unrelated = text_values(max_size=max_size, like_wildcards=like_wildcards, valid_for=valid_for)
    if not text:
        return unrelated
    pieces = st.tuples(st.integers(0, len(text) - 1), st.integers(1, max_size)).map(
        lambda ij: text[ij[0] : ij[0] + ij[1]]
    )
    typed = st.tuples(pieces, st.sampled_from([str.swapcase, str.upper, str.lower, str])).map(lambda t: t[1](t[0]))
    return st.one_of(typed, unrelated)


# -- JSON ----------------------------------------------------------------------------------


def json_scalars(*, valid_for: str | None = POSTGRESQL) -> st.SearchStrategy[Any]:
    """``null``, booleans, numbers (big integers, floats, ``-0.0``) and strings."""
    numbers = st.one_of(
        st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 2**63, 2**64 + 1, -(2**63) - 1]),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([0.5, -0.0, 1.0, 0.1, 1e300, 2.5e-8, 123456789.123456789]),
        st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN/Infinity
    )
    return st.one_of(st.none(), st.booleans(), numbers, text_values(max_size=12, valid_for=valid_for))


def json_documents(
    *, top: str = "any", max_leaves: int = 12, valid_for: str | None = POSTGRESQL
) -> st.SearchStrategy[Any]:
    """JSON-able documents: nested objects and arrays of ``json_scalars``.

    ``top="object"`` always gives a dict at the top (what most columns hold),
    ``top="array"`` a list. Objects keep their key order when serialised, so
    a column that reorders keys (``jsonb``) can be told from one that does not.
    """
    keys = text_values(max_size=8, valid_for=valid_for)
    scalars = json_scalars(valid_for=valid_for)
    tree = st.recursive(
        scalars,
        lambda children: st.one_of(
            st.dictionaries(keys, children, max_size=4),
            st.lists(children, max_size=4),
        ),
        max_leaves=max_leaves,
    )
    if top == "object":
        return st.dictionaries(keys, tree, min_size=1, max_size=5)
    if top == "array":
        return st.lists(tree, max_size=5)
    if top != "any":
        raise ValueError(f"json_documents(top={top!r}): use 'any', 'object' or 'array'")
    return tree


# -- numbers -------------------------------------------------------------------------------


def integers(
    bits: int = 32, *, min_value: int | None = None, max_value: int | None = None, valid_for: str | None = POSTGRESQL
) -> st.SearchStrategy[int]:
    """Integers that fit a ``smallint`` (16), ``integer`` (32) or ``bigint`` (64), boundaries first."""
    if bits not in INT_BOUNDS:
        raise ValueError(f"integers(bits={bits}): use 16, 32 or 64")
    low, high = INT_BOUNDS[bits]
    if valid_for is None:
        low, high = low * 2**4, high * 2**4  # past the column's width on purpose
    low = low if min_value is None else max(low, min_value)
    high = high if max_value is None else min(high, max_value)
    if low > high:
        raise ValueError(f"integers: empty range [{low}, {high}]")
    edges = [v for v in (0, 1, -1, low, high, low + 1, high - 1, 2**31 - 1, -(2**31), 2**53 + 1) if low <= v <= high]
    return st.one_of(st.sampled_from(sorted(set(edges), key=lambda v: (abs(v), v))), st.integers(low, high))


def decimals(
    precision: int | None = 10,
    scale: int | None = 2,
    *,
    min_value: Decimal | int | None = None,
    max_value: Decimal | int | None = None,
    allow_nan: bool = False,
    valid_for: str | None = POSTGRESQL,
) -> st.SearchStrategy[Decimal]:
    """``Decimal`` values for ``NUMERIC(precision, scale)``.

    Values use at most ``scale`` places, written both ways (``Decimal('1.5')``
    and ``Decimal('1.50')``), including negative zero and rounding ties.
    ``precision=None`` means unconstrained ``NUMERIC``. With
    ``valid_for=None``, values with more places than the scale appear too
    (PostgreSQL rounds them, SQLite stores them as given).
    """
    if scale is None:
        places = 6 if precision is None else 0  # NUMERIC(p) has scale 0 on PostgreSQL
    else:
        places = scale
    if precision is None:
        bound = Decimal(10) ** 12
    else:
        bound = Decimal(10) ** (precision - places) - Decimal(1).scaleb(-places)
    low = -bound if min_value is None else max(-bound, Decimal(min_value))
    high = bound if max_value is None else min(bound, Decimal(max_value))
    if low > high:
        raise ValueError(f"decimals: empty range [{low}, {high}]")
    quantum = Decimal(1).scaleb(-places)
    edges = [Decimal("0"), Decimal("0.5"), Decimal("-0"), Decimal("1"), Decimal("2.5"), Decimal("0.1"),
             Decimal("-0.5"), Decimal("0.01"), high, low]
    edges = [e.quantize(quantum) if e.as_tuple().exponent < -places else e for e in edges]
    edges = [e for e in edges if low <= e <= high]
    padded = st.decimals(min_value=low, max_value=high, places=places, allow_nan=False, allow_infinity=False)
    shortened = padded.map(_shortest)
    out = st.one_of(st.sampled_from(edges), shortened, padded, st.sampled_from(edges).map(lambda d: d.quantize(quantum)))
    if valid_for is None:
        out = st.one_of(out, st.decimals(min_value=low, max_value=high, places=places + 3))
    if allow_nan:
        out = st.one_of(out, st.just(Decimal("NaN")))
    return out


def _shortest(value: Decimal) -> Decimal:
    """``Decimal('1.50')`` -> ``Decimal('1.5')``, keeping integers integral (not ``1E+1``)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal


def floats(
    width: int = 64,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    allow_nan: bool | None = None,
    allow_infinity: bool | None = None,
    valid_for: str | None = POSTGRESQL,
) -> st.SearchStrategy[float]:
    """Floats for ``double precision`` (64) or ``real`` (32): rounding ties, ``-0.0``, tiny and huge.

    PostgreSQL's float columns accept NaN and ±Infinity, so they appear by
    default (SQLite stores NaN as NULL) unless a bound is given; switch them
    off for columns whose application never produces them. ``min_value`` /
    ``max_value`` keep values in the application's range (ratings 0..5).
    """
    bounded = min_value is not None or max_value is not None
    allow_nan = not bounded if allow_nan is None else allow_nan
    allow_infinity = not bounded if allow_infinity is None else allow_infinity
    low = -math.inf if min_value is None else min_value
    high = math.inf if max_value is None else max_value
    nasty = [v for v in NASTY_FLOATS if low <= v <= high]
    if width == 32:
        nasty = [v for v in nasty if v == 0 or 1e-38 < abs(v) < 3.4e38]
    specials = [v for v in FLOAT_SPECIALS if (allow_nan and v != v) or (allow_infinity and v == v and low <= v <= high)]
    edges = nasty + specials
    values = st.floats(
        min_value=min_value, max_value=max_value, width=width, allow_nan=allow_nan, allow_infinity=allow_infinity
    )
    return st.one_of(st.sampled_from(edges), values) if edges else values


# -- datetimes -----------------------------------------------------------------------------


def _zones() -> list[dt.tzinfo]:
    zones: list[dt.tzinfo] = [dt.timezone.utc, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-12)),
                              dt.timezone(dt.timedelta(hours=5, minutes=30))]
    try:
        from zoneinfo import ZoneInfo

        zones[1:1] = [ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")]
    except Exception:  # no tz database: fixed offsets still cover naive-vs-aware
        pass
    return zones


NAIVE_EDGES = [
    dt.datetime(2000, 1, 1),
    dt.datetime(1970, 1, 1),
    dt.datetime(2024, 2, 29, 12, 0),
    dt.datetime(2024, 3, 10, 2, 30),  # does not exist in America/New_York
    dt.datetime(2024, 11, 3, 1, 30),  # exists twice in America/New_York
    dt.datetime(2024, 3, 31, 2, 30),  # does not exist in Europe/Berlin
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
    dt.datetime(2038, 1, 19, 3, 14, 8),
    dt.datetime(2024, 1, 1, 0, 0, 0, 1),
    dt.datetime(1900, 1, 1),
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
]


def datetimes(
    *, timezone: bool | None = None, min_year: int = 1, max_year: int = 9999
) -> st.SearchStrategy[dt.datetime]:
    """Datetimes on the fault lines: DST gaps and folds, leap days, the epoch, microseconds.

    ``timezone=False`` gives naive values (for ``DateTime()``), ``True`` aware
    ones (for ``DateTime(timezone=True)``), ``None`` both. Aware values stay a
    day inside year 1..9999 so every zone's UTC offset can be applied.
    """
    naive_edges = [d for d in NAIVE_EDGES if min_year <= d.year <= max_year]
    naive = st.one_of(
        st.sampled_from(naive_edges) if naive_edges else st.nothing(),
        st.datetimes(min_value=dt.datetime(min_year, 1, 1), max_value=dt.datetime(max_year, 12, 31, 23, 59, 59, 999999)),
    )
    lo, hi = max(min_year, 2), min(max_year, 9998)
    aware_edges = [d for d in naive_edges if lo <= d.year <= hi]
    zones = st.sampled_from(_zones())
    aware = st.one_of(
        st.tuples(st.sampled_from(aware_edges), zones, st.sampled_from([0, 1])).map(
            lambda t: t[0].replace(tzinfo=t[1], fold=t[2])
        )
        if aware_edges
        else st.nothing(),
        st.datetimes(
            min_value=dt.datetime(lo, 1, 1), max_value=dt.datetime(hi, 12, 31, 23, 59, 59, 999999), timezones=zones
        ),
    )
    if timezone is True:
        return aware
    if timezone is False:
        return naive
    return st.one_of(naive, aware)


# -- rows of a mapped class ----------------------------------------------------------------

_CHECK_RE = re.compile(r"^\s*\(?\s*\"?(\w+)\"?\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*\)?\s*$")


def strategy_for_column(column: Any, *, valid_for: str | None = POSTGRESQL) -> st.SearchStrategy[Any]:
    """A strategy for one ``Column``, from its type, length/precision and nullability.

    Raises ``TypeError`` naming the column when the type is not known (pass
    an override to ``rows`` for it).
    """
    from sqlalchemy import types as sat

    type_ = column.type
    impl = getattr(type_, "impl", None)
    if isinstance(type_, sat.TypeDecorator) and impl is not None:
        type_ = impl if not isinstance(impl, type) else impl()
    strategy = _strategy_for_type(type_, column, valid_for)
    if strategy is None:
        raise TypeError(
            f"dualdb.contrib.strategies: no strategy for column {column.table.name}.{column.name} of type "
            f"{column.type!r}; pass a strategy for it as an override (rows(Model, {column.key}=...))"
        )
    if column.nullable and not column.primary_key:
        strategy = st.one_of(st.none(), strategy)
    return strategy


def _strategy_for_type(type_: Any, column: Any, valid_for: str | None) -> st.SearchStrategy[Any] | None:
    from sqlalchemy import types as sat

    if isinstance(type_, sat.Enum):
        if type_.enum_class is not None:
            return st.sampled_from(list(type_.enum_class))
        return st.sampled_from(list(type_.enums))
    if isinstance(type_, sat.Boolean):
        return st.booleans()
    if isinstance(type_, sat.BigInteger):
        return integers(64, valid_for=valid_for)
    if isinstance(type_, sat.SmallInteger):
        return integers(16, valid_for=valid_for)
    if isinstance(type_, sat.Integer):
        return integers(32, valid_for=valid_for)
    if isinstance(type_, sat.Float):  # before Numeric: Float subclasses it
        width = 32 if (type_.precision or 53) <= 24 else 64
        return floats(width, valid_for=valid_for)
    if isinstance(type_, sat.Numeric):
        values = decimals(type_.precision, type_.scale, valid_for=valid_for)
        return values if type_.asdecimal else values.map(float)
    if isinstance(type_, sat.ARRAY):
        inner = _strategy_for_type(type_.item_type, column, valid_for)
        return None if inner is None else st.lists(inner, max_size=4)
    if isinstance(type_, sat.JSON):
        return json_documents(valid_for=valid_for)
    if isinstance(type_, sat.String):  # String, Text, Unicode, CHAR, VARCHAR
        length = type_.length
        if valid_for is None and length is not None:
            length += 2
        return text_values(max_size=length if length is not None else 30, valid_for=valid_for)
    if isinstance(type_, sat.DateTime):
        return datetimes(timezone=bool(type_.timezone))
    if isinstance(type_, sat.Date):
        return st.dates()
    if isinstance(type_, sat.Time):
        return st.times()
    if isinstance(type_, sat.Interval):
        return st.timedeltas(min_value=dt.timedelta(days=-(10**6)), max_value=dt.timedelta(days=10**6))
    if isinstance(type_, sat.Uuid):
        return st.uuids() if type_.as_uuid else st.uuids().map(str)
    if isinstance(type_, sat.LargeBinary):
        return st.binary(max_size=type_.length or 64)
    return None


def _check_bounds(table: Any) -> dict[str, list[tuple[str, Decimal]]]:
    """``CHECK (quantity > 0)``-style constraints: column -> [(operator, number)]."""
    from sqlalchemy import CheckConstraint

    bounds: dict[str, list[tuple[str, Decimal]]] = {}
    for constraint in getattr(table, "constraints", ()):
        if not isinstance(constraint, CheckConstraint):
            continue
        text = str(getattr(constraint.sqltext, "text", constraint.sqltext))
        for part in re.split(r"\s+AND\s+", text, flags=re.I):
            match = _CHECK_RE.match(part)
            if match:
                bounds.setdefault(match.group(1), []).append((match.group(2), Decimal(match.group(3))))
    return bounds


def _bounded(strategy: st.SearchStrategy[Any], checks: list[tuple[str, Decimal]]) -> st.SearchStrategy[Any]:
    def ok(value: Any) -> bool:
        if value is None:
            return True
        try:
            number = Decimal(str(value))
        except Exception:
            return True
        if number.is_nan():
            return False
        for op, bound in checks:
            if op == ">" and not number > bound or op == ">=" and not number >= bound:
                return False
            if op == "<" and not number < bound or op == "<=" and not number <= bound:
                return False
        return True

    return strategy.filter(ok)


def _column_strategies(
    cls: type, overrides: dict[str, Any], valid_for: str | None
) -> dict[str, st.SearchStrategy[Any]]:
    from sqlalchemy import inspect

    mapper = inspect(cls)
    unknown = set(overrides) - {attr.key for attr in mapper.column_attrs}
    if unknown:
        raise TypeError(f"rows({cls.__name__}): no mapped column {', '.join(sorted(unknown))}")
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for attr in mapper.column_attrs:
        if len(attr.columns) != 1:
            continue
        column = attr.columns[0]
        key = attr.key
        if key in overrides:
            value = overrides[key]
            strategies[key] = value if isinstance(value, st.SearchStrategy) else st.just(value)
            continue
        if getattr(column, "computed", None) is not None or getattr(column, "identity", None) is not None:
            continue
        if column.primary_key and _is_autoincrement(column):
            continue  # the database assigns it
        if column.foreign_keys:
            if column.nullable:
                strategies[key] = st.none()
                continue
            target = next(iter(column.foreign_keys)).target_fullname
            raise TypeError(
                f"rows({cls.__name__}): column {key!r} references {target}; a generated value would "
                f"not exist there. Pass it: rows({cls.__name__}, {key}=<existing id or strategy>)"
            )
        strategy = strategy_for_column(column, valid_for=valid_for)
        checks = _check_bounds(column.table).get(column.name)
        if checks and valid_for is not None:
            strategy = _bounded(strategy, checks)
        strategies[key] = strategy
    return strategies


def _is_autoincrement(column: Any) -> bool:
    from sqlalchemy import types as sat

    if column.autoincrement is True:
        return True
    if column.autoincrement == "auto":
        pks = [c for c in column.table.primary_key.columns]
        return len(pks) == 1 and isinstance(column.type, sat.Integer) and not column.foreign_keys
    return False


def rows(cls: type, *, as_dict: bool = False, valid_for: str | None = POSTGRESQL, **overrides: Any) -> st.SearchStrategy[Any]:
    """Instances of the mapped class ``cls`` with every column generated from its declaration.

    * autoincrement primary keys, computed and identity columns are left to the database;
    * nullable columns are ``None`` sometimes (and shrink to ``None``);
    * ``String(n)`` fits ``n`` characters, ``Numeric(p, s)`` its precision and
      scale, ``Integer``/``BigInteger`` their width, ``Enum`` its values;
    * simple ``CHECK (col > 0)`` comparisons on the table are respected;
    * a non-nullable foreign key needs an override (``author_id=author.id``):
      a generated id would reference nothing.

    ``overrides`` map attribute names to a strategy or a fixed value.
    ``as_dict=True`` gives ``{attribute: value}`` dicts instead of instances.
    The ``dual`` fixture gives each engine its own copy of generated instances.
    """
    strategies = _column_strategies(cls, overrides, valid_for)
    values = st.fixed_dictionaries(strategies)
    if as_dict:
        return values
    return values.map(lambda d: _instance(cls, d))


def row_lists(
    cls: type, *, min_size: int = 0, max_size: int = 8, valid_for: str | None = POSTGRESQL, **overrides: Any
) -> st.SearchStrategy[list[Any]]:
    """Lists of ``rows(cls)`` that respect the table's unique columns and unique constraints."""
    from sqlalchemy import UniqueConstraint, inspect

    mapper = inspect(cls)
    table = mapper.local_table
    key_of = {attr.columns[0].name: attr.key for attr in mapper.column_attrs if len(attr.columns) == 1}
    strategies = _column_strategies(cls, overrides, valid_for)
    groups: list[tuple[str, ...]] = []
    for column in table.columns:
        if column.unique and column.name in key_of and key_of[column.name] in strategies:
            groups.append((key_of[column.name],))
        if column.primary_key and column.name in key_of and key_of[column.name] in strategies:
            groups.append((key_of[column.name],))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keys = tuple(key_of.get(c.name) for c in constraint.columns)
            if all(k in strategies for k in keys):
                groups.append(keys)

    def unique_key(keys: tuple[str, ...]):  # noqa: ANN202
        return lambda row: tuple(_unique_token(row.get(k)) for k in keys)

    unique_by = tuple(unique_key(g) for g in dict.fromkeys(groups))
    dicts = st.lists(
        st.fixed_dictionaries(strategies), min_size=min_size, max_size=max_size, unique_by=unique_by or None
    )
    return dicts.map(lambda items: [_instance(cls, d) for d in items])


def _unique_token(value: Any) -> Any:
    """How PostgreSQL decides uniqueness: NULLs never clash; -0.0 equals 0.0."""
    if value is None:
        return object()
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return value


def _instance(cls: type, values: dict[str, Any]) -> Any:
    from sqlalchemy import inspect

    try:
        return cls(**values)
    except TypeError:  # a custom __init__: build it without calling it
        obj = inspect(cls).class_manager.new_instance()
        for key, value in values.items():
            setattr(obj, key, value)
        return obj
