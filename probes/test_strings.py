"""Strings: same names, different functions.

SQLite's built-in ``lower()``/``upper()`` only know ASCII, ``substr`` counts negative
positions from the end, and it ships SQLite-only helpers (``instr``, ``printf``,
``GLOB``). PostgreSQL's case mapping follows the database's locale (ICU here:
``É`` → ``é``, ``ß`` → ``SS``), ``substr`` with a negative start just clips, ``CHAR(n)``
is blank-padded, and floats print without a trailing ``.0``. Regular expressions
are Python's ``re`` on SQLite (SQLAlchemy registers a ``REGEXP`` function) and POSIX
ARE on PostgreSQL.

Case-mapping probes depend on the PostgreSQL database's locale: with ICU (the
plugin's default) or an ``en_US.UTF-8`` libc locale PostgreSQL maps non-ASCII
letters; under the ``C`` locale it maps ASCII only, like SQLite.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import String, cast, func, literal, select

from dualdb.probes.models import Order, Product, User


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="strings", expect="diverged", needs="linguistic")
def test_member_search_ignores_case_of_accented_names(db_session, make_user):
    """Case-insensitive search with non-ASCII letters.

    App: member search uses ``User.first_name.ilike(q)`` (the portable
    case-insensitive match); a member searches for ``élodie``.
    SQLite: ``ilike`` becomes ``lower(first_name) LIKE lower(?)``, and SQLite's
    ``lower()`` leaves ``É`` alone: ``Élodie`` is not found.
    PostgreSQL (ICU / ``en_US`` locale): ``ILIKE`` folds ``É`` to ``é``: found.
    Fix: store a normalised search column filled in Python (``str.casefold()``), or
    load the ICU extension into SQLite; test on the production engine.
    """
    make_user("Élodie", "Durand")
    make_user("Elliot", "Smith")

    found = db_session.scalars(select(User.last_name).where(User.first_name.ilike("élodie"))).all()

    assert found == ["Durand"]


@pytest.mark.probe(category="strings", expect="diverged", needs="icu")
def test_street_names_normalised_with_upper(db_session, make_user, observe):
    """``upper()`` of ``ß`` (silent: both pass).

    App: addresses are de-duplicated on ``func.upper(street)``; here the last name
    ``Straße`` stands in for the street.
    SQLite: ASCII-only ``upper()``: ``STRAßE``.
    PostgreSQL (ICU): full Unicode case mapping: ``STRASSE``. (A libc locale maps
    character by character and keeps ``ß``; the ``C`` locale is ASCII-only.)
    Fix: normalise in Python (``str.upper()`` gives ``STRASSE``; ``casefold()``
    gives ``strasse``) and store the normalised key.
    """
    make_user("Hans", "Straße")

    key = db_session.scalar(select(func.upper(User.last_name)))

    observe("normalised", key)
    assert key.startswith("STRA")


@pytest.mark.probe(category="strings", expect="diverged")
def test_masked_phone_shows_last_four_digits(db_session, make_user):
    """``substr`` with a negative start.

    App: the profile page masks the phone number: ``func.substr(User.phone, -4)``.
    SQLite: a negative start counts from the end: ``'4321'``.
    PostgreSQL: positions before the string are simply clipped; ``substr(s, -4)``
    returns the whole string ``'+33 6 12 34 4321'``.
    Fix: ``func.substr(User.phone, func.length(User.phone) - 3)`` — a positive start,
    identical on both (see the ``_fixed`` test).
    """
    make_user("Alice", phone="+33 6 12 34 4321")

    last_four = db_session.scalar(select(func.substr(User.phone, -4)))

    assert last_four == "4321"


@pytest.mark.probe(category="strings", expect="same")
def test_masked_phone_shows_last_four_digits_fixed(db_session, make_user):
    """Fix for ``test_masked_phone_shows_last_four_digits``: a positive start."""
    make_user("Alice", phone="+33 6 12 34 4321")

    last_four = db_session.scalar(
        select(func.substr(User.phone, func.length(User.phone) - 3))
    )

    assert last_four == "4321"


@pytest.mark.probe(category="strings", expect="diverged")
def test_users_grouped_by_email_domain_with_instr(db_session, make_user):
    """``instr()`` is SQLite's (PostgreSQL says ``strpos``/``position``).

    App: ``func.substr(User.email, func.instr(User.email, "@") + 1)`` as the email
    domain, for a "top domains" chart.
    SQLite: works.
    PostgreSQL: ``function instr(character varying, unknown) does not exist``.
    Fix: extract the domain in Python (``email.rsplit("@", 1)[1]``), or filter with
    ``User.email.endswith("@example.com")`` (``LIKE '%' || ...``), which is portable.
    """
    make_user("Alice", email="alice@example.com")
    make_user("Bob", email="bob@example.org")

    domains = db_session.scalars(
        select(func.substr(User.email, func.instr(User.email, "@") + 1)).order_by(User.id)
    ).all()

    assert domains == ["example.com", "example.org"]


@pytest.mark.probe(category="strings", expect="same")
def test_users_grouped_by_email_domain_with_instr_fixed(db_session, make_user):
    """Fix for ``test_users_grouped_by_email_domain_with_instr``: split in Python."""
    make_user("Alice", email="alice@example.com")
    make_user("Bob", email="bob@example.org")

    emails = db_session.scalars(select(User.email).order_by(User.id)).all()

    assert [email.rsplit("@", 1)[1] for email in emails] == ["example.com", "example.org"]


@pytest.mark.probe(category="strings", expect="diverged")
def test_invoice_number_with_printf(db_session, make_user):
    """``printf()`` is SQLite's.

    App: invoice numbers are formatted in SQL: ``func.printf("INV-%05d", Order.id)``.
    SQLite: ``'INV-00001'``.
    PostgreSQL: ``function printf(unknown, integer) does not exist`` (its
    ``format()`` does not know ``%d`` either).
    Fix: format in Python: ``f"INV-{order.id:05d}"``.
    """
    db_session.add(Order(user=make_user("Alice"), total=Decimal("10")))
    db_session.flush()

    number = db_session.scalar(select(func.printf("INV-%05d", Order.id)))

    assert number == "INV-00001"


@pytest.mark.probe(category="strings", expect="diverged")
def test_coupon_code_is_padded(db_session, make_user):
    """``CHAR(n)`` values are blank-padded by PostgreSQL.

    App: ``Order.coupon_code`` is ``CHAR(8)``; the receipt prints "coupon SAVE10
    applied" when ``order.coupon_code == "SAVE10"``.
    SQLite: stores and returns ``'SAVE10'``.
    PostgreSQL: ``character(8)`` returns ``'SAVE10  '`` — the Python comparison fails.
    Fix: use ``String(8)`` (VARCHAR) for codes of varying length, or strip on read
    (``func.rtrim`` in SQL, ``.rstrip()`` in Python).
    """
    order = Order(user=make_user("Alice"), coupon_code="SAVE10")
    db_session.add(order)
    db_session.commit()
    db_session.expire(order)

    assert order.coupon_code == "SAVE10"


@pytest.mark.probe(category="strings", expect="same")
def test_coupon_code_is_padded_fixed(db_session, make_user):
    """Fix for ``test_coupon_code_is_padded``: ``func.rtrim`` when reading."""
    db_session.add(Order(user=make_user("Alice"), coupon_code="SAVE10"))
    db_session.flush()

    code = db_session.scalar(select(func.rtrim(Order.coupon_code)))

    assert code == "SAVE10"


@pytest.mark.probe(category="strings", expect="diverged")
def test_weight_label_built_in_sql(db_session, make_product, observe):
    """A float rendered as text (silent: both pass).

    App: the product card label is built in SQL:
    ``cast(Product.weight_kg, String) + " kg"``.
    SQLite: ``'1.0 kg'`` (REAL keeps its ``.0``).
    PostgreSQL: ``'1 kg'`` (``double precision`` prints the shortest exact form).
    Fix: format numbers in Python (``f"{weight:g} kg"``) or in the template.
    """
    make_product("Kettle", weight_kg=1.0)

    label = db_session.scalar(select(cast(Product.weight_kg, String) + " kg"))

    observe("label", label)
    assert label.endswith(" kg")


@pytest.mark.probe(category="strings", expect="diverged")
def test_colour_word_search_with_regex(db_session, make_product, observe):
    """Regular expressions: Python ``re`` on SQLite, POSIX ARE on PostgreSQL
    (silent: both pass).

    App: search a whole word with ``Product.name.regexp_match(r"\\bred\\b")``.
    SQLite: SQLAlchemy registers Python's ``re`` as ``REGEXP``; ``\\b`` is a word
    boundary: ``Dark red shoe`` matches, ``Reddish hat`` does not.
    PostgreSQL: in an ARE ``\\b`` means *backspace*; nothing matches (the word
    boundary is ``\\y``).
    Fix: stick to the common subset (``(^|[^a-z])red([^a-z]|$)``), or test on the
    production engine.
    """
    make_product("Dark red shoe")
    make_product("Reddish hat")

    found = db_session.scalars(
        select(Product.name).where(Product.name.regexp_match(r"\bred\b")).order_by(Product.id)
    ).all()

    observe("matches", found)
    assert "Reddish hat" not in found


@pytest.mark.probe(category="strings", expect="same")
def test_colour_word_search_with_regex_fixed(db_session, make_product, observe):
    """Fix for ``test_colour_word_search_with_regex``: a pattern in the common
    subset of Python ``re`` and POSIX ARE."""
    make_product("Dark red shoe")
    make_product("Reddish hat")

    found = db_session.scalars(
        select(Product.name)
        .where(Product.name.regexp_match(r"(^|[^a-z])red([^a-z]|$)"))
        .order_by(Product.id)
    ).all()

    observe("matches", found)
    assert found == ["Dark red shoe"]


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="strings", expect="same")
def test_full_name_with_missing_middle_name(db_session, make_user):
    """Look-alike: ``||`` with a NULL operand is NULL on both engines (standard SQL);
    ``coalesce`` fixes it the same way on both."""
    make_user("Ada", "Lovelace", middle_name=None)

    raw = db_session.scalar(select(User.first_name + " " + User.middle_name + " " + User.last_name))
    fixed = db_session.scalar(
        select(User.first_name + " " + func.coalesce(User.middle_name + " ", "") + User.last_name)
    )

    assert (raw, fixed) == (None, "Ada Lovelace")


@pytest.mark.probe(category="strings", expect="same")
def test_length_counts_characters(db_session, make_product):
    """Look-alike: ``length()`` counts characters, not bytes, on both engines
    (for SQLite TEXT values), accents included; trailing spaces count too."""
    make_product("Crème brûlée ")

    length = db_session.scalar(select(func.length(Product.name)))

    assert length == 13


@pytest.mark.probe(category="strings", expect="same")
def test_sku_label_concatenates_number(db_session, make_product):
    """Look-alike: concatenating text and an integer column with ``||`` works on both
    engines (``text || anynonarray`` on PostgreSQL, implicit text on SQLite)."""
    make_product("Pen")

    label = db_session.scalar(select(literal("#").concat(Product.id) + ": " + Product.name))

    assert label == "#1: Pen"


@pytest.mark.probe(category="strings", expect="same")
def test_trailing_space_makes_varchar_different(db_session, make_user):
    """Look-alike: for ``VARCHAR`` trailing spaces are significant on both engines
    (``'bob '`` is not ``'bob'``), unlike ``CHAR``."""
    make_user("Bob", username="bob ")

    found = db_session.scalars(select(User.first_name).where(User.username == "bob")).all()

    assert found == []


@pytest.mark.probe(category="strings", expect="same")
def test_like_underscore_is_a_wildcard(db_session, make_product):
    """Look-alike: ``_`` in a LIKE pattern matches any one character on both
    engines; escape it (``autoescape=True``) to match a literal underscore."""
    make_product("A_C adapter")
    make_product("ABC adapter")

    wildcard = db_session.scalars(
        select(Product.name).where(Product.name.like("A_C%")).order_by(Product.id)
    ).all()
    literal_underscore = db_session.scalars(
        select(Product.name).where(Product.name.startswith("A_C", autoescape=True))
    ).all()

    assert (wildcard, literal_underscore) == (["A_C adapter", "ABC adapter"], ["A_C adapter"])
