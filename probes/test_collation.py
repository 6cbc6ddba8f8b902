"""Collation: how text is compared and sorted.

SQLite compares text with ``BINARY`` (byte by byte: ``A B Z a b z``, accented letters
after ``z``) and its ``LIKE`` ignores ASCII case. A production PostgreSQL database
normally has a linguistic collation (here ICU ``en-US``: ``a A b B``, ``é`` next to
``e``) and a case-sensitive ``LIKE``.

The sorting probes depend on the PostgreSQL database's collation: they diverge under
ICU ``en-US`` (the plugin's default) or a libc ``en_US.UTF-8`` locale, and would not
under the ``C`` collation (bytewise, like SQLite). ``LIKE`` case sensitivity does
not depend on the collation.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dualdb.probes.models import Product, User


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="collation", expect="diverged", needs="linguistic")
def test_product_list_is_alphabetical(db_session, make_product):
    """``ORDER BY name`` is "alphabetical" in two different ways.

    App: the catalog page lists ``select(Product).order_by(Product.name)``; the test
    checks the list is sorted the way Python sorts (``sorted(names)``).
    SQLite: BINARY collation, uppercase before lowercase:
    ``Apple juice, Banana bread, apple pie, cherry tart`` — equal to ``sorted()``.
    PostgreSQL (ICU en-US): ``Apple juice, apple pie, Banana bread, cherry tart``.
    Why: Python's ``sorted`` compares code points, like SQLite; PostgreSQL uses the
    database's linguistic collation. Depends on ICU (or an ``en_US`` libc locale).
    Fix: decide what "alphabetical" means and say it on both sides, e.g.
    ``order_by(func.lower(Product.name), Product.id)`` in the query and
    ``sorted(names, key=str.lower)`` in the test.
    """
    for name in ["apple pie", "Banana bread", "cherry tart", "Apple juice"]:
        make_product(name)

    names = db_session.scalars(select(Product.name).order_by(Product.name)).all()

    assert names == sorted(names)


@pytest.mark.probe(category="collation", expect="same")
def test_product_list_is_alphabetical_fixed(db_session, make_product):
    """Fix for ``test_product_list_is_alphabetical``: sort on ``lower(name)`` with the
    primary key as tie-breaker, and compare with ``sorted(key=str.lower)``."""
    for name in ["apple pie", "Banana bread", "cherry tart", "Apple juice"]:
        make_product(name)

    names = db_session.scalars(
        select(Product.name).order_by(func.lower(Product.name), Product.id)
    ).all()

    assert names == sorted(names, key=str.lower)
    assert names == ["Apple juice", "apple pie", "Banana bread", "cherry tart"]


@pytest.mark.probe(category="collation", expect="diverged", needs="linguistic")
def test_member_directory_with_accented_names(db_session, make_user, observe):
    """Accented first letters sort after ``z`` on SQLite (silent: both pass).

    App: the member directory ``order_by(User.first_name)``.
    SQLite: bytes: ``Eve, Zoë, adam, Émile`` (``É`` is 0xC3 0x89, after every ASCII
    letter).
    PostgreSQL (ICU en-US): ``adam, Émile, Eve, Zoë``.
    Why: BINARY vs linguistic collation. Depends on ICU (or an ``en_US`` libc locale).
    Fix: test on the production engine; if SQLite must sort like production,
    register a collation on the SQLite connection (``create_collation``) — there is
    no portable way to get linguistic ordering from SQLite's built-ins.
    """
    for first_name in ["Zoë", "Émile", "Eve", "adam"]:
        make_user(first_name)

    names = db_session.scalars(select(User.first_name).order_by(User.first_name)).all()

    observe("directory order", names)
    assert len(names) == 4


@pytest.mark.probe(category="collation", expect="diverged")
def test_search_is_case_insensitive_with_like(db_session, make_product):
    """``LIKE`` ignores case on SQLite only.

    App: the search box runs ``Product.name.like(f"%{q}%")``; the test searches
    ``phone`` and expects every phone accessory.
    SQLite: ``LIKE`` is case-insensitive for ASCII letters: ``iPhone case``,
    ``Phone charger`` and ``Headphones`` all match.
    PostgreSQL: ``LIKE`` is case-sensitive: only ``Headphones`` matches.
    Fix: ``Product.name.ilike(...)`` — ``ILIKE`` on PostgreSQL, ``lower(x) LIKE
    lower(y)`` on SQLite.
    """
    for name in ["iPhone case", "Phone charger", "Headphones", "Desk"]:
        make_product(name)

    found = db_session.scalars(
        select(Product.name).where(Product.name.like("%phone%")).order_by(Product.id)
    ).all()

    assert found == ["iPhone case", "Phone charger", "Headphones"]


@pytest.mark.probe(category="collation", expect="same")
def test_search_is_case_insensitive_with_like_fixed(db_session, make_product):
    """Fix for ``test_search_is_case_insensitive_with_like``: ``ilike``."""
    for name in ["iPhone case", "Phone charger", "Headphones", "Desk"]:
        make_product(name)

    found = db_session.scalars(
        select(Product.name).where(Product.name.ilike("%phone%")).order_by(Product.id)
    ).all()

    assert found == ["iPhone case", "Phone charger", "Headphones"]


@pytest.mark.probe(category="collation", expect="diverged", needs="linguistic")
def test_directory_page_a_to_m(db_session, make_product, observe):
    """A range filter on text (silent: both pass).

    App: the A–M page of an alphabetical index:
    ``where(Product.name >= "A", Product.name < "N")``.
    SQLite: bytewise, lowercase letters sort after ``N``: only ``Banana``.
    PostgreSQL (ICU en-US): ``apple, Banana, mango`` (case is only a tie-breaker).
    Depends on ICU (or an ``en_US`` libc locale).
    Fix: filter on the first letter explicitly:
    ``func.upper(func.substr(Product.name, 1, 1)).between("A", "M")``.
    """
    for name in ["apple", "Banana", "mango", "Nectarine", "zucchini"]:
        make_product(name)

    page = db_session.scalars(
        select(Product.name)
        .where(Product.name >= "A", Product.name < "N")
        .order_by(Product.id)
    ).all()

    observe("A-M page", page)
    assert "Banana" in page


@pytest.mark.probe(category="collation", expect="same")
def test_directory_page_a_to_m_fixed(db_session, make_product, observe):
    """Fix for ``test_directory_page_a_to_m``: compare the upper-cased first letter."""
    for name in ["apple", "Banana", "mango", "Nectarine", "zucchini"]:
        make_product(name)

    initial = func.upper(func.substr(Product.name, 1, 1))
    page = db_session.scalars(
        select(Product.name).where(initial.between("A", "M")).order_by(Product.id)
    ).all()

    observe("A-M page", page)
    assert page == ["apple", "Banana", "mango"]


@pytest.mark.probe(category="collation", expect="diverged", needs="linguistic")
def test_first_author_alphabetically_with_min(db_session, make_user, observe):
    """``MIN()`` on text follows the collation too (silent: both pass).

    App: "first member alphabetically" via ``func.min(User.last_name)``.
    SQLite: ``Zimmer`` (``Z`` = 0x5A sorts before ``d`` = 0x64).
    PostgreSQL (ICU en-US): ``de Vries``.
    Depends on ICU (or an ``en_US`` libc locale).
    Fix: ``func.min(func.lower(User.last_name))`` when case must not matter.
    """
    make_user("Hanna", "Zimmer")
    make_user("Jan", "de Vries")

    first = db_session.scalar(select(func.min(User.last_name)))

    observe("min(last_name)", first)
    assert first


@pytest.mark.probe(category="collation", expect="diverged", needs="linguistic")
def test_draft_names_sorted_with_underscore(db_session, make_product, observe):
    """Punctuation sorts differently (silent: both pass).

    App: internal products prefixed ``_`` are listed ``order_by(Product.name)``,
    expecting them first.
    SQLite: ``_`` (0x5F) sorts after ``A``–``Z``: ``Alpha, _draft, beta``.
    PostgreSQL (ICU en-US): punctuation sorts before letters: ``_draft, Alpha, beta``.
    Depends on ICU (or an ``en_US`` libc locale).
    Fix: do not encode meaning in sort order of punctuation; add an explicit column
    (``is_internal``) and ``order_by(is_internal.desc(), name)``.
    """
    for name in ["beta", "_draft", "Alpha"]:
        make_product(name)

    names = db_session.scalars(select(Product.name).order_by(Product.name)).all()

    observe("names", names)
    assert set(names) == {"beta", "_draft", "Alpha"}


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="collation", expect="same")
def test_email_equality_is_case_sensitive(db_session, make_user):
    """Look-alike: ``=`` is case-sensitive on both engines (SQLite BINARY, and ICU
    ``en-US`` is a *deterministic* collation in PostgreSQL: strings that differ in
    case are not equal). Logins must normalise case themselves (``func.lower``)."""
    make_user("Alice", email="alice@example.com")

    exact = db_session.scalar(select(func.count()).where(User.email == "alice@example.com"))
    other_case = db_session.scalar(select(func.count()).where(User.email == "Alice@Example.com"))
    normalised = db_session.scalar(
        select(func.count()).where(func.lower(User.email) == "Alice@Example.com".lower())
    )

    assert (exact, other_case, normalised) == (1, 0, 1)


@pytest.mark.probe(category="collation", expect="same")
def test_unique_email_allows_other_case(db_session, make_user):
    """Look-alike: a UNIQUE constraint treats ``bob@x.org`` and ``Bob@x.org`` as
    different values on both engines (deterministic collations)."""
    make_user("Bob", email="bob@x.org")
    make_user("Bobby", email="Bob@x.org")
    db_session.commit()

    assert db_session.scalar(select(func.count()).select_from(User)) == 2


@pytest.mark.probe(category="collation", expect="same")
def test_group_by_category_keeps_case_variants(db_session, make_product):
    """Look-alike: ``GROUP BY`` on text keeps ``Garden`` and ``garden`` apart on both
    engines (deterministic collations compare bytes on ties)."""
    make_product("Rake", category="Garden")
    make_product("Hose", category="garden")
    make_product("Spade", category="garden")

    counts = dict(db_session.execute(
        select(Product.category, func.count()).group_by(Product.category)
    ).all())

    assert counts == {"Garden": 1, "garden": 2}


@pytest.mark.probe(category="collation", expect="same")
def test_numbered_items_sort_as_text(db_session, make_product):
    """Look-alike: neither engine sorts "naturally": ``item10`` comes before ``item2``
    under BINARY and under ICU's default (numeric ordering is an ICU option,
    ``kn-true``, not the default)."""
    for name in ["item2", "item10", "item1"]:
        make_product(name)

    names = db_session.scalars(select(Product.name).order_by(Product.name)).all()

    assert names == ["item1", "item10", "item2"]
