"""``dualdb.contrib.strategies``: the strategies reach the fault lines and stay valid on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from decimal import Decimal
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dualdb.engines.provision import Provisioner
from dualdb.config import Settings
from dualdb.contrib.strategies import (
    LIKE_META,
    datetimes,
    decimals,
    floats,
    integers,
    json_documents,
    row_lists,
    rows,
    search_terms,
    text_values,
)
from dualdb.dual.results import Raised
from dualdb.dual.runner import Paired

FAST = settings(
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.generate],
)


def found(strategy: st.SearchStrategy[Any], condition) -> Any:  # noqa: ANN001
    """Some generated value satisfies ``condition`` (within Hypothesis's default budget)."""
    return find(strategy, condition, settings=settings(database=None, max_examples=2000, phases=[Phase.generate]))


# -- text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "what, condition",
    [
        ("empty string", lambda s: s == ""),
        ("trailing space", lambda s: len(s) > 1 and s.endswith(" ")),
        ("ASCII case pair", lambda s: "a" in s and "A" in s),
        ("non-ASCII upper-case letter", lambda s: any(not c.isascii() and c.isupper() for c in s)),
        ("combining character", lambda s: "\u0301" in s),
        ("LIKE wildcard", lambda s: "%" in s or "_" in s),
        ("backslash", lambda s: "\\" in s),
        ("sharp s", lambda s: "ß" in s),
    ],
)
def test_text_values_reach_the_fault_lines(what, condition):  # noqa: ANN001
    assert condition(found(text_values(max_size=10), condition)), what


@FAST
@given(value=text_values(max_size=5))
def test_text_values_are_valid_on_postgresql_by_default(value):
    assert "\x00" not in value and len(value) <= 5


def test_text_values_can_leave_postgresql_limits_and_wildcards_on_request():
    assert "\x00" in found(text_values(valid_for=None), lambda s: "\x00" in s)

    @FAST
    @given(value=text_values(like_wildcards=False))
    def no_wildcards(value):  # noqa: ANN001
        assert not set(value) & set(LIKE_META)

    no_wildcards()


def test_search_terms_type_part_of_the_text_in_another_case():
    term = found(search_terms("Crème brûlée"), lambda t: len(t) >= 2 and t.swapcase() in "Crème brûlée")
    assert term and term != term.swapcase()


# -- JSON --------------------------------------------------------------------------------


@FAST
@given(doc=json_documents(top="object"))
def test_json_documents_are_json(doc):
    assert isinstance(doc, dict)
    json.loads(json.dumps(doc, allow_nan=False))  # no NaN/Infinity: not JSON


def leaves(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        return [leaf for v in doc.values() for leaf in leaves(v)]
    if isinstance(doc, list):
        return [leaf for v in doc for leaf in leaves(v)]
    return [doc]


@pytest.mark.parametrize(
    "what, condition",
    [
        ("nested object", lambda d: any(isinstance(v, dict) and v for v in d.values())),
        ("array", lambda d: any(isinstance(v, list) and v for v in d.values())),
        ("null", lambda d: None in d.values()),
        ("boolean", lambda d: any(v is True or v is False for v in d.values())),
        ("integer past 64 bits", lambda d: any(type(v) is int and abs(v) > 2**63 for v in leaves(d))),
        ("negative zero", lambda d: any(type(v) is float and v == 0 and math.copysign(1, v) < 0 for v in leaves(d))),
        ("several keys (order)", lambda d: len(d) >= 3),
    ],
)
def test_json_documents_reach_the_fault_lines(what, condition):  # noqa: ANN001
    assert condition(found(json_documents(top="object"), condition)), what


# -- numbers -----------------------------------------------------------------------------


@FAST
@given(small=integers(16), normal=integers(32), big=integers(64))
def test_integers_fit_their_width(small, normal, big):
    assert -(2**15) <= small < 2**15 and -(2**31) <= normal < 2**31 and -(2**63) <= big < 2**63


def test_integers_reach_their_boundaries():
    assert found(integers(32), lambda v: v == 2**31 - 1) == 2**31 - 1
    assert found(integers(64), lambda v: v == -(2**63)) == -(2**63)
    assert found(integers(32, valid_for=None), lambda v: v >= 2**31) >= 2**31


@FAST
@given(value=decimals(5, 2))
def test_decimals_fit_precision_and_scale(value):
    sign, digits, exponent = value.as_tuple()
    assert exponent >= -2 and abs(value) < 1000


def test_decimals_come_in_both_spellings_and_as_negative_zero():
    assert found(decimals(5, 2), lambda d: str(d) == "1.50" or str(d) == "0.50")
    assert found(decimals(5, 2), lambda d: d == 0 and d.is_signed()) is not None
    assert found(decimals(5, 2), lambda d: d != d.to_integral_value() and len(str(d).split(".")[1]) == 1)


def test_floats_have_ties_specials_only_when_allowed():
    assert found(floats(), lambda f: f == 2.5) == 2.5
    assert math.isnan(found(floats(), lambda f: f != f))

    @FAST
    @given(value=floats(allow_nan=False, allow_infinity=False))
    def finite(value):  # noqa: ANN001
        assert math.isfinite(value)

    finite()


# -- datetimes ---------------------------------------------------------------------------


@FAST
@given(naive=datetimes(timezone=False), aware=datetimes(timezone=True))
def test_datetimes_are_naive_or_aware_as_asked(naive, aware):
    assert naive.tzinfo is None
    assert aware.utcoffset() is not None


def test_datetimes_reach_dst_folds_and_microseconds():
    fold = found(datetimes(timezone=True), lambda d: d.fold == 1 and getattr(d.tzinfo, "key", "") == "America/New_York"
                 and d.replace(fold=0).utcoffset() != d.utcoffset())
    # a fold (clocks back at 2:00, so 1:xx twice) or a gap (clocks forward at 2:00); the months
    # moved over the years (April/October before 2007)
    assert fold.fold == 1 and fold.hour in (1, 2)
    assert found(datetimes(timezone=False), lambda d: d.microsecond == 999999)


# -- rows of a mapped class -----------------------------------------------------------------


# This file's own model, not tests/support/models.py: rows() is tested on one column of each type it
# generates values for (enums, CHECK, BigInteger, timestamps with and without a zone).
class Base(DeclarativeBase):
    pass


class Status(enum.Enum):
    draft = "draft"
    live = "live"


class Listing(Base):
    __tablename__ = "strategy_listings"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_listing_quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)
    title: Mapped[str] = mapped_column(String(12))
    body: Mapped[Optional[str]] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    quantity: Mapped[int] = mapped_column(Integer)
    views: Mapped[int] = mapped_column(BigInteger)
    rank: Mapped[Optional[int]] = mapped_column(SmallInteger)
    weight: Mapped[Optional[float]] = mapped_column(Float)
    status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False))
    kind: Mapped[str] = mapped_column(Enum("a", "b", native_enum=False, create_constraint=True))
    details: Mapped[Optional[dict]] = mapped_column(JSON)
    listed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


@pytest.fixture(scope="module")
def dual(pg_url):  # noqa: ANN001
    provisioner = Provisioner(Settings(pg_url=pg_url), lambda: [Base.metadata], worker="strategies")
    paired = Paired({name: provisioner.get(name) for name in ("sqlite", "postgresql")})
    try:
        yield paired
    finally:
        paired.close()
        provisioner.close()


def insert_all(session, listings):  # noqa: ANN001
    session.add_all(listings)
    session.commit()
    return session.scalars(select(Listing.id).order_by(Listing.id)).all()


def test_rows_are_accepted_by_postgresql(dual):
    """Generated rows respect length, precision, width, enums and the CHECK constraint."""

    @FAST
    @given(listings=row_lists(Listing, min_size=1, max_size=4))
    def prop(listings):  # noqa: ANN001
        result = dual.run(insert_all, listings)
        assert not isinstance(result.postgresql, Raised), result.postgresql
        assert len(result.postgresql) == len(listings)
        assert all(item.quantity > 0 and len(item.code) <= 5 for item in listings)

    prop()


def test_rows_leave_autoincrement_keys_to_the_database_and_take_overrides():
    listing = found(rows(Listing, title="fixed", quantity=st.just(7)), lambda item: True)
    assert listing.id is None and listing.title == "fixed" and listing.quantity == 7
    as_dict = found(rows(Listing, as_dict=True), lambda d: True)
    assert "id" not in as_dict and set(as_dict) >= {"code", "price", "status"}
    with pytest.raises(TypeError, match="no mapped column"):
        rows(Listing, nope=1)


def test_rows_outside_postgresql_limits_on_request(dual):
    fixed = {"quantity": 1, "views": 1, "rank": None}
    too_long = found(rows(Listing, valid_for=None, **fixed), lambda item: len(item.title) > 12)

    def insert(session, listing):  # noqa: ANN001
        session.add(listing)
        session.flush()

    result = dual.run(insert, too_long)
    assert isinstance(result.postgresql, Raised) and not isinstance(result.sqlite, Raised)
