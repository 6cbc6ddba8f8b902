from datetime import timezone

import pytest
import pytest_asyncio
from faker import Faker

from dualdb.fastapi import async_client
from tickets.db import get_db
from tickets.main import app
from tickets.models import Event, EventStatus, Venue

fake = Faker()


@pytest_asyncio.fixture
async def client(db_async_session, observe):
    """The API on the test's AsyncSession; every response is recorded for the dual-db comparison."""
    async with async_client(app, get_db, db_async_session, observe) as c:
        yield c


@pytest_asyncio.fixture
async def venue(db_async_session):
    venue = Venue(name=f"{fake.last_name()} Hall", city="Lyon", timezone="Europe/Paris")
    db_async_session.add(venue)
    await db_async_session.commit()
    return venue


def event_payload(venue, **overrides):
    """What the promoters' back office posts: a show some time in the coming months."""
    payload = {
        "venue_id": venue.id,
        "title": fake.catch_phrase(),
        "starts_at": fake.future_datetime(end_date="+90d", tzinfo=timezone.utc).isoformat(),
        "price": "24.50",
        "capacity": 100,
        "attrs": {"genre": "jazz", "age_limit": 0},
    }
    payload.update(overrides)
    return payload


@pytest_asyncio.fixture
async def on_sale(client, venue):
    """A published event, through the API as the back office does it."""
    r = await client.post("/events", json=event_payload(venue, capacity=10))
    assert r.status_code == 201, r.text
    r = await client.post(f"/events/{r.json()['id']}/publish")
    assert r.status_code == 200, r.text
    return r.json()


@pytest_asyncio.fixture
async def seeded_events(db_async_session, venue):
    """Several published events, inserted directly (the ids are uuid4, the dates Faker's)."""
    events = [
        Event(venue=venue, title=title, starts_at=fake.date_time_between("+1d", "+60d"),
              price=price, capacity=50, status=EventStatus.on_sale, attrs=attrs)
        for title, price, attrs in [
            ("Night of the Trumpets", "18.00", {"genre": "jazz", "age_limit": 18}),
            ("Organ Recital", "12.00", {"genre": "classical", "age_limit": 0}),
            ("Bebop Brunch", "9.50", {"genre": "jazz", "age_limit": 21}),
            ("Symphony No. 9", "35.00", {"genre": "classical", "age_limit": 12, "lineup": ["Orchestre de Lyon"]}),
        ]
    ]
    db_async_session.add_all(events)
    await db_async_session.commit()
    return events
