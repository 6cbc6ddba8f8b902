"""Dates and times: SQLite has no date type.

SQLAlchemy stores a ``DateTime`` on SQLite as TEXT (``'2024-03-01 12:00:00.000000'``),
*without* the UTC offset even for ``DateTime(timezone=True)``: an aware datetime is
written as its wall-clock time and read back naive. SQL on dates therefore works on
strings there (text comparison, ``strftime``, ``julianday``, ``date(x, '+7 days')``).
PostgreSQL's ``timestamptz`` stores an instant, converts offsets, returns aware
datetimes (in the session time zone, UTC here), and has its own function set
(``extract``, ``date_trunc``, ``AT TIME ZONE``, intervals).

Portable habits: keep every datetime in UTC in the application, bind ``datetime``
objects (never strings), compute cut-offs in Python, and use SQLAlchemy's
``extract()`` / ``func.date(..., type_=Date)`` where SQL must look inside a date.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Date, Integer, cast, extract, func, select, text

from dualdb.probes.models import Event, Order, utc

PARIS_SUMMER = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def customer(make_user):
    return make_user("Alice")


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="datetime", expect="diverged")
def test_order_timestamp_is_in_the_past(db_session, customer):
    """``DateTime(timezone=True)`` reads back naive on SQLite.

    App: an order stores ``created_at`` as an aware UTC datetime; the "recent
    orders" code compares it with ``datetime.now(timezone.utc)``.
    SQLite: the value comes back naive: ``TypeError: can't compare offset-naive and
    offset-aware datetimes``.
    PostgreSQL: ``timestamptz`` comes back aware (UTC); the comparison works.
    Fix: normalise on read (``value.replace(tzinfo=timezone.utc)`` when naive, e.g.
    a ``TypeDecorator``), or test on PostgreSQL where the type is real.
    """
    order = Order(user=customer, created_at=utc(2024, 3, 1, 12))
    db_session.add(order)
    db_session.commit()
    db_session.expire(order)

    assert order.created_at < dt.datetime.now(dt.timezone.utc)


@pytest.mark.probe(category="datetime", expect="diverged")
def test_event_time_from_another_time_zone(db_session, make_event, observe):
    """An offset other than UTC is dropped, not converted, on SQLite (silent: both
    pass).

    App: a client in Paris posts ``2024-06-01T12:00:00+02:00``; the dashboard shows
    the event's UTC hour.
    SQLite: the wall-clock time is stored without its offset and read back as naive
    12:00 — two hours off.
    PostgreSQL: the instant is stored; it reads back as 10:00+00:00.
    Fix: convert to UTC before saving (``value.astimezone(timezone.utc)``) — then
    both engines store 10:00.
    """
    event = make_event("login", dt.datetime(2024, 6, 1, 12, 0, tzinfo=PARIS_SUMMER))
    db_session.commit()
    db_session.expire(event)

    observe("stored hour", event.occurred_at.hour)
    assert event.occurred_at.minute == 0


@pytest.mark.probe(category="datetime", expect="same")
def test_event_time_from_another_time_zone_fixed(db_session, make_event, observe):
    """Fix for ``test_event_time_from_another_time_zone``: convert to UTC before
    saving; the event is then found at 10:00 UTC on both engines."""
    local = dt.datetime(2024, 6, 1, 12, 0, tzinfo=PARIS_SUMMER)
    make_event("login", local.astimezone(dt.timezone.utc))
    db_session.commit()

    at_ten_utc = db_session.scalars(
        select(Event.kind).where(Event.occurred_at == utc(2024, 6, 1, 10, 0))
    ).all()

    observe("events at 10:00 UTC", at_ten_utc)
    assert at_ten_utc == ["login"]


@pytest.mark.probe(category="datetime", expect="diverged")
def test_activity_feed_mixes_time_zones(db_session, make_event, observe):
    """Sorting instants written with different offsets (silent: both pass).

    App: the activity feed ``order_by(Event.occurred_at)``; a Paris event at
    10:00+02:00 (08:00 UTC) and a London event at 09:00+00:00.
    SQLite: compares the stored wall-clock texts: ``london`` (09:00) before ``paris``
    (10:00) — wrong.
    PostgreSQL: compares instants: ``paris`` (08:00Z) before ``london`` (09:00Z).
    Fix: store UTC only (``astimezone(timezone.utc)`` on the way in).
    """
    make_event("paris", dt.datetime(2024, 6, 1, 10, 0, tzinfo=PARIS_SUMMER))
    make_event("london", utc(2024, 6, 1, 9, 0))

    feed = db_session.scalars(select(Event.kind).order_by(Event.occurred_at)).all()

    observe("feed", feed)
    assert len(feed) == 2


@pytest.mark.probe(category="datetime", expect="diverged")
def test_monthly_revenue_with_strftime(db_session, customer):
    """``strftime`` is SQLite's, ``to_char`` is PostgreSQL's.

    App: the revenue chart groups by ``func.strftime("%Y-%m", Order.created_at)``.
    SQLite: ``strftime`` formats the stored text.
    PostgreSQL: ``function strftime(unknown, timestamp with time zone) does not
    exist``.
    Fix: group by ``extract("year", ...)`` and ``extract("month", ...)`` — SQLAlchemy
    compiles ``extract`` for each dialect (see the ``_fixed`` test).
    """
    db_session.add_all([Order(user=customer, created_at=utc(2024, 1, 5), total=10),
                        Order(user=customer, created_at=utc(2024, 1, 20), total=15),
                        Order(user=customer, created_at=utc(2024, 2, 2), total=7)])
    db_session.flush()

    month = func.strftime("%Y-%m", Order.created_at)
    rows = db_session.execute(
        select(month, func.count()).group_by(month).order_by(month)
    ).all()

    assert [tuple(row) for row in rows] == [("2024-01", 2), ("2024-02", 1)]


@pytest.mark.probe(category="datetime", expect="same")
def test_monthly_revenue_with_strftime_fixed(db_session, customer):
    """Fix for ``test_monthly_revenue_with_strftime``: ``extract()``; the result is
    cast to Integer because PostgreSQL's ``EXTRACT`` returns ``numeric``."""
    db_session.add_all([Order(user=customer, created_at=utc(2024, 1, 5), total=10),
                        Order(user=customer, created_at=utc(2024, 1, 20), total=15),
                        Order(user=customer, created_at=utc(2024, 2, 2), total=7)])
    db_session.flush()

    year = cast(extract("year", Order.created_at), Integer)
    month = cast(extract("month", Order.created_at), Integer)
    rows = db_session.execute(
        select(year, month, func.count()).group_by(year, month).order_by(year, month)
    ).all()

    assert [tuple(row) for row in rows] == [(2024, 1, 2), (2024, 2, 1)]


@pytest.mark.probe(category="datetime", expect="diverged")
def test_events_since_iso_timestamp_in_raw_sql(db_session, make_event, observe):
    """An ISO-8601 string compared with a stored datetime in raw SQL.

    App: ``GET /events?since=2024-01-01T10:00:00`` passes the query string straight
    into ``text("... WHERE occurred_at >= :since")``.
    SQLite: silently wrong — a *text* comparison: the stored
    ``'2024-01-01 12:00:00.000000'`` has a space where the parameter has ``T``
    (0x20 < 0x54), so the 12:00 event is not "since 10:00" and the list is empty.
    PostgreSQL: loud — SQLAlchemy binds a Python ``str`` as ``VARCHAR`` and there is
    no ``timestamptz >= varchar`` operator (``operator does not exist``).
    Fix: parse the string (``datetime.fromisoformat``) and bind a datetime against
    the typed column (the ORM, or ``text(...).bindparams(bindparam("since",
    type_=DateTime(timezone=True)))``).
    """
    make_event("signup", utc(2024, 1, 1, 12, 0))

    kinds = db_session.scalars(
        text("SELECT kind FROM events WHERE occurred_at >= :since").bindparams(
            since="2024-01-01T10:00:00")
    ).all()

    observe("events since 10:00", kinds)
    assert len(kinds) <= 1


@pytest.mark.probe(category="datetime", expect="same")
def test_events_since_iso_timestamp_fixed(db_session, make_event, observe):
    """Fix for ``test_events_since_iso_timestamp_in_raw_sql``: parse, then bind a
    datetime through the ORM column."""
    make_event("signup", utc(2024, 1, 1, 12, 0))
    since = dt.datetime.fromisoformat("2024-01-01T10:00:00").replace(tzinfo=dt.timezone.utc)

    kinds = db_session.scalars(select(Event.kind).where(Event.occurred_at >= since)).all()

    observe("events since 10:00", kinds)
    assert kinds == ["signup"]


@pytest.mark.probe(category="datetime", expect="diverged")
def test_orders_of_the_day_with_cast_to_date(db_session, customer):
    """``CAST(x AS DATE)`` on SQLite is a *numeric* cast.

    App: the daily report filters ``cast(Order.created_at, Date) ==
    date(2024, 3, 1)``.
    SQLite: ``DATE`` has NUMERIC affinity: ``CAST('2024-03-01 12:00:00' AS DATE)``
    is the number 2024; nothing matches.
    PostgreSQL: a real date cast; the order is found.
    Fix: ``func.date(Order.created_at, type_=Date) == date(2024, 3, 1)`` — ``date()``
    exists on both engines (PostgreSQL accepts the type name as a function).
    """
    db_session.add(Order(user=customer, created_at=utc(2024, 3, 1, 12)))
    db_session.flush()

    count = db_session.scalar(
        select(func.count()).where(cast(Order.created_at, Date) == dt.date(2024, 3, 1))
    )

    assert count == 1


@pytest.mark.probe(category="datetime", expect="same")
def test_orders_of_the_day_with_cast_to_date_fixed(db_session, customer):
    """Fix for ``test_orders_of_the_day_with_cast_to_date``: ``func.date``."""
    db_session.add(Order(user=customer, created_at=utc(2024, 3, 1, 12)))
    db_session.flush()

    count = db_session.scalar(
        select(func.count()).where(func.date(Order.created_at, type_=Date) == dt.date(2024, 3, 1))
    )

    assert count == 1


@pytest.mark.probe(category="datetime", expect="diverged")
def test_delivery_days_with_julianday(db_session, customer):
    """``julianday()`` date arithmetic is SQLite-only.

    App: delivery time in days, ``func.julianday(shipped_at) -
    func.julianday(created_at)``.
    SQLite: 3.125 days.
    PostgreSQL: ``function julianday(timestamp with time zone) does not exist``.
    Fix: subtract epoch seconds, ``extract("epoch", shipped) - extract("epoch",
    created)`` — portable (see ``test_delivery_time_as_interval_fixed``).
    """
    db_session.add(Order(user=customer, created_at=utc(2024, 3, 1, 12),
                         shipped_at=utc(2024, 3, 4, 15)))
    db_session.flush()

    days = db_session.scalar(
        select(func.julianday(Order.shipped_at) - func.julianday(Order.created_at))
    )

    assert round(days, 3) == 3.125


@pytest.mark.probe(category="datetime", expect="diverged")
def test_delivery_time_as_interval(db_session, customer):
    """Subtracting two timestamps in SQL: an interval on PostgreSQL only.

    App: ``select(Order.shipped_at - Order.created_at)``, typed by SQLAlchemy as
    ``Interval`` (a ``timedelta``).
    PostgreSQL: ``timestamptz - timestamptz`` is an ``interval``:
    ``timedelta(days=3, hours=3)``.
    SQLite: text minus text is numeric nonsense (0), which SQLAlchemy's Interval
    emulation then fails to convert: ``TypeError``.
    Fix: ``extract("epoch", shipped) - extract("epoch", created)`` (see the
    ``_fixed`` test), or fetch both and subtract in Python after making SQLite's
    naive values aware.
    """
    db_session.add(Order(user=customer, created_at=utc(2024, 3, 1, 12),
                         shipped_at=utc(2024, 3, 4, 15)))
    db_session.flush()

    took = db_session.scalar(select(Order.shipped_at - Order.created_at))

    assert took == dt.timedelta(days=3, hours=3)


@pytest.mark.probe(category="datetime", expect="same")
def test_delivery_time_as_interval_fixed(db_session, customer):
    """Fix for ``test_delivery_time_as_interval`` and
    ``test_delivery_days_with_julianday``: subtract epoch seconds.
    ``extract("epoch", ...)`` compiles to ``strftime('%s', ...)`` on SQLite and
    ``EXTRACT(epoch FROM ...)`` on PostgreSQL; both give the same number of seconds
    (SQLite's ``%s`` drops fractions of a second)."""
    db_session.add(Order(user=customer, created_at=utc(2024, 3, 1, 12),
                         shipped_at=utc(2024, 3, 4, 15)))
    db_session.flush()

    seconds = db_session.scalar(
        select(extract("epoch", Order.shipped_at) - extract("epoch", Order.created_at))
    )

    assert dt.timedelta(seconds=float(seconds)) == dt.timedelta(days=3, hours=3)


@pytest.mark.probe(category="datetime", expect="diverged")
def test_local_business_day_with_at_time_zone(db_session, make_event):
    """Time-zone conversion in SQL: PostgreSQL-only.

    App: the Paris office's daily report converts with ``func.timezone("Europe/Paris",
    Event.occurred_at)`` (``AT TIME ZONE``).
    PostgreSQL: 23:30 UTC on 31 May is 01:30 on 1 June in Paris.
    SQLite: ``no such function: timezone`` (SQLite knows only UTC and "localtime").
    Fix: convert in Python with ``zoneinfo.ZoneInfo("Europe/Paris")``.
    """
    make_event("order", utc(2024, 5, 31, 23, 30))

    local = db_session.scalar(select(func.timezone("Europe/Paris", Event.occurred_at)))

    assert (local.month, local.day, local.hour) == (6, 1, 1)


@pytest.mark.probe(category="datetime", expect="diverged")
def test_reminders_due_this_week_with_sqlite_modifier(db_session, make_event):
    """SQLite's ``date(x, '+7 days')`` modifiers.

    App: reminders due within a week of their event:
    ``func.date(Event.occurred_at, "+7 days") >= "2024-01-05"``.
    SQLite: ``date()`` with a modifier returns ``'2024-01-08'``.
    PostgreSQL: ``function date(timestamp with time zone, unknown) does not exist``.
    Fix: compute the bound in Python (``cutoff = day - timedelta(days=7)``) and
    compare the column with it: ``Event.occurred_at >= cutoff``.
    """
    make_event("trial started", utc(2024, 1, 1, 9))
    make_event("trial started", utc(2023, 12, 1, 9))

    due = db_session.scalar(
        select(func.count()).where(func.date(Event.occurred_at, "+7 days") >= "2024-01-05")
    )

    assert due == 1


@pytest.mark.probe(category="datetime", expect="same")
def test_reminders_due_this_week_with_sqlite_modifier_fixed(db_session, make_event):
    """Fix for ``test_reminders_due_this_week_with_sqlite_modifier``: a cut-off
    computed in Python, compared with an aware UTC datetime."""
    make_event("trial started", utc(2024, 1, 1, 9))
    make_event("trial started", utc(2023, 12, 1, 9))

    cutoff = utc(2024, 1, 5) - dt.timedelta(days=7)
    due = db_session.scalar(select(func.count()).where(Event.occurred_at >= cutoff))

    assert due == 1


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="datetime", expect="same")
def test_utc_range_filter(db_session, make_event):
    """Look-alike: when every value is UTC, range filters with aware ``datetime``
    parameters find the same rows on both engines (SQLite compares the formatted
    texts, which sort like the instants)."""
    make_event("a", utc(2024, 1, 1, 9))
    make_event("b", utc(2024, 1, 1, 11))
    make_event("c", utc(2024, 1, 2, 9))

    kinds = db_session.scalars(
        select(Event.kind)
        .where(Event.occurred_at >= utc(2024, 1, 1, 10), Event.occurred_at < utc(2024, 1, 2))
        .order_by(Event.occurred_at)
    ).all()

    assert kinds == ["b"]


@pytest.mark.probe(category="datetime", expect="same")
def test_microseconds_are_kept(db_session, make_event):
    """Look-alike: both engines keep microseconds (SQLite in the text, PostgreSQL's
    ``timestamptz`` has microsecond resolution): an equality filter on the exact
    instant finds the row, one microsecond later does not."""
    make_event("tick", utc(2024, 1, 1, 9, 0, 0, 123456))
    db_session.commit()

    exact = db_session.scalar(
        select(func.count()).where(Event.occurred_at == utc(2024, 1, 1, 9, 0, 0, 123456)))
    later = db_session.scalar(
        select(func.count()).where(Event.occurred_at == utc(2024, 1, 1, 9, 0, 0, 123457)))

    assert (exact, later) == (1, 0)


@pytest.mark.probe(category="datetime", expect="same")
def test_year_of_order_with_extract(db_session, customer):
    """Look-alike: ``extract("year", ...)`` compiles to ``strftime('%Y', ...)`` on
    SQLite and ``EXTRACT(year FROM ...)`` on PostgreSQL; both filter the same rows."""
    db_session.add_all([Order(user=customer, created_at=utc(2023, 12, 31, 23)),
                        Order(user=customer, created_at=utc(2024, 1, 1, 1))])
    db_session.flush()

    count_2024 = db_session.scalar(
        select(func.count()).where(extract("year", Order.created_at) == 2024)
    )

    assert count_2024 == 1
