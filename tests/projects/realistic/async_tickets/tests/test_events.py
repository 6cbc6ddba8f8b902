import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import event_payload, fake


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_create_venue(client):
    r = await client.post("/venues", json={"name": fake.company(), "city": fake.city()})

    assert r.status_code == 201
    assert r.json()["timezone"] == "UTC"
    assert isinstance(r.json()["id"], int)


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_create_event_is_a_draft(client, venue):
    payload = event_payload(venue, price="19.90")

    r = await client.post("/events", json=payload)

    assert r.status_code == 201, r.text
    body = r.json()
    uuid.UUID(body["id"])
    assert body["status"] == "draft"
    assert Decimal(body["price"]) == Decimal("19.90")
    assert body["attrs"] == {"genre": "jazz", "age_limit": 0}
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is None  # naive UTC, as the back office expects
    assert abs(datetime.now(timezone.utc).replace(tzinfo=None) - created) < timedelta(minutes=1)


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_event_times_are_stored_in_utc(client, venue):
    local = datetime(2031, 7, 14, 21, 30, tzinfo=ZoneInfo("Europe/Paris"))

    r = await client.post("/events", json=event_payload(venue, starts_at=local.isoformat()))

    assert r.json()["starts_at"] == "2031-07-14T19:30:00"


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_unknown_venue_is_rejected(client):
    r = await client.post("/events", json={"venue_id": 9999, "title": "Ghost gig", "starts_at": "2031-01-01T20:00:00Z",
                                           "price": "10.00", "capacity": 5})

    assert r.status_code == 422


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_publish_twice_is_a_conflict(client, venue):
    event = (await client.post("/events", json=event_payload(venue))).json()

    assert (await client.post(f"/events/{event['id']}/publish")).json()["status"] == "on_sale"
    r = await client.post(f"/events/{event['id']}/publish")

    assert r.status_code == 409
    assert r.json()["detail"] == "event is on_sale"


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_get_event(client, on_sale):
    r = await client.get(f"/events/{on_sale['id']}")

    assert r.status_code == 200
    assert r.json() == on_sale
    assert (await client.get(f"/events/{uuid.uuid4()}")).status_code == 404


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_listing_is_chronological_and_paginated(client, seeded_events):
    first = (await client.get("/events", params={"limit": 3})).json()
    rest = (await client.get("/events", params={"limit": 3, "offset": 3})).json()

    starts = [e["starts_at"] for e in first + rest]
    assert len(first) == 3 and len(rest) == 1
    assert starts == sorted(starts)


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_listing_upcoming_after_a_date(client, seeded_events):
    cutoff = sorted(e.starts_at for e in seeded_events)[2]

    r = await client.get("/events", params={"after": cutoff.replace(tzinfo=timezone.utc).isoformat()})

    assert len(r.json()) == 2


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_filter_by_genre(client, seeded_events):
    r = await client.get("/events", params={"genre": "classical"})

    assert sorted(e["title"] for e in r.json()) == ["Organ Recital", "Symphony No. 9"]


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_search_events_by_title(client, seeded_events):
    r = await client.get("/events/search/", params={"q": "BRUNCH"})

    assert [e["title"] for e in r.json()] == ["Bebop Brunch"]


@pytest.mark.asyncio
@pytest.mark.expect("diverged", category="json")
async def test_age_restricted_events(client, seeded_events):
    r = await client.get("/events/age-restricted/")

    assert r.status_code == 200
    assert sorted(e["title"] for e in r.json()) == ["Bebop Brunch", "Night of the Trumpets"]
