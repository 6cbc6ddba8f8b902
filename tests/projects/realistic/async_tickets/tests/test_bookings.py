import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.conftest import fake


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_book_seats(client, on_sale):
    email = fake.email()

    r = await client.post(f"/events/{on_sale['id']}/bookings", json={"email": f"  {email.upper()} ", "seats": 3})

    assert r.status_code == 201, r.text
    body = r.json()
    uuid.UUID(body["public_id"])
    assert body["email"] == email.lower()
    assert Decimal(body["amount"]) == Decimal("73.50")
    assert body["status"] == "held"
    assert re.fullmatch(r"[0-9a-f]{16}", body["reference"])
    expires = datetime.fromisoformat(body["hold_expires_at"])
    assert expires.tzinfo is not None
    assert timedelta(minutes=14) < expires - datetime.now(timezone.utc) <= timedelta(minutes=15)


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_overbooking_is_refused(client, on_sale):
    for _ in range(3):
        assert (await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 3})).status_code == 201

    r = await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 2})

    assert r.status_code == 409
    assert r.json()["detail"] == "not enough seats left"


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_draft_events_cannot_be_booked(client, venue):
    from tests.conftest import event_payload

    draft = (await client.post("/events", json=event_payload(venue))).json()

    r = await client.post(f"/events/{draft['id']}/bookings", json={"email": fake.email(), "seats": 1})

    assert r.status_code == 409


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_availability(client, on_sale):
    booking = (await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 4})).json()
    await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 1})
    await client.post("/webhooks/payments", json={"delivery_id": f"dlv_{uuid.uuid4().hex}",
                                                   "booking_reference": booking["reference"]})

    r = await client.get(f"/events/{on_sale['id']}/availability")

    body = r.json()
    assert (body["capacity"], body["booked"], body["remaining"]) == (10, 5, 5)
    assert Decimal(body["revenue"]) == Decimal("98.00")
    assert datetime.fromisoformat(body["as_of"]).tzinfo is not None


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_customer_bookings(client, on_sale, seeded_events):
    email = fake.email()
    await client.post(f"/events/{on_sale['id']}/bookings", json={"email": email, "seats": 2})
    await client.post(f"/events/{seeded_events[1].id}/bookings", json={"email": email.upper(), "seats": 1})
    await client.post(f"/events/{seeded_events[2].id}/bookings", json={"email": fake.email(), "seats": 1})

    r = await client.get(f"/customers/{email}/bookings")

    assert sorted(b["seats"] for b in r.json()) == [1, 2]
    starts = [b["starts_at"] for b in r.json()]
    assert starts == sorted(starts)


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_payment_webhook_confirms_the_booking(client, on_sale):
    booking = (await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 2})).json()

    r = await client.post("/webhooks/payments", json={"delivery_id": f"evt_{uuid.uuid4().hex[:12]}",
                                                       "booking_reference": booking["reference"]})

    assert r.json() == {"status": "processed", "booking": booking["reference"]}
    summary = (await client.get(f"/bookings/by-reference/{booking['reference']}")).json()
    assert summary["status"] == "confirmed"


@pytest.mark.asyncio
@pytest.mark.expect("same")
async def test_cancelling_an_event_refunds_its_bookings(client, on_sale):
    for seats in (1, 2, 3):
        await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": seats})

    r = await client.post(f"/events/{on_sale['id']}/cancel")

    assert r.json() == {"status": "cancelled", "refunded": 3}
    assert (await client.get(f"/events/{on_sale['id']}/availability")).json()["booked"] == 0


@pytest.mark.asyncio
@pytest.mark.expect("diverged", category="transactions")
async def test_repeated_webhook_delivery_is_ignored(client, on_sale):
    booking = (await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 1})).json()
    delivery = {"delivery_id": f"evt_{uuid.uuid4().hex[:12]}", "booking_reference": booking["reference"]}
    assert (await client.post("/webhooks/payments", json=delivery)).json()["status"] == "processed"

    r = await client.post("/webhooks/payments", json=delivery)

    assert r.json() == {"status": "duplicate", "booking": booking["reference"]}


@pytest.mark.asyncio
@pytest.mark.expect("diverged", category="datetime")
async def test_box_office_confirmation_is_timestamped(client, on_sale):
    booking = (await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 2})).json()

    r = await client.post(f"/bookings/{booking['public_id']}/confirm")

    assert r.json()["status"] == "confirmed"
    confirmed_at = datetime.fromisoformat(r.json()["confirmed_at"])
    assert datetime.now(timezone.utc) - confirmed_at < timedelta(minutes=1)
    assert r.json()["hold_expires_at"] is None


@pytest.mark.asyncio
@pytest.mark.expect("diverged", category="types")
async def test_receipt_for_the_mailer(client, on_sale):
    booking = (await client.post(f"/events/{on_sale['id']}/bookings", json={"email": fake.email(), "seats": 2})).json()

    r = await client.get(f"/bookings/{booking['public_id']}/receipt")

    assert r.status_code == 200
    assert r.json()["reference"] == booking["reference"]
    assert r.json()["seats"] == 2
