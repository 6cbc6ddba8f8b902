import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Optional

from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy import Integer, cast, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import schemas
from .db import get_db
from .models import Booking, BookingStatus, Event, EventStatus, Venue, WebhookDelivery

app = FastAPI(title="tickets")

HOLD = timedelta(minutes=15)


def to_utc_naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def booking_out(booking: Booking) -> schemas.BookingOut:
    out = schemas.BookingOut.model_validate(booking)
    if booking.status is BookingStatus.held:
        out.hold_expires_at = booking.created_at.replace(tzinfo=timezone.utc) + HOLD
    return out


async def load_event(db: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await db.get(Event, event_id)
    if event is None:
        raise HTTPException(404, "no such event")
    return event


async def booked_seats(db: AsyncSession, event_id: uuid.UUID) -> int:
    return await db.scalar(
        select(func.coalesce(func.sum(Booking.seats), 0)).where(
            Booking.event_id == event_id, Booking.status != BookingStatus.refunded
        )
    )


# -- venues and events -------------------------------------------------------------------


@app.post("/venues", status_code=201, response_model=schemas.VenueOut)
async def create_venue(data: schemas.VenueIn, db: AsyncSession = Depends(get_db)):
    venue = Venue(**data.model_dump())
    db.add(venue)
    await db.commit()
    return venue


@app.post("/events", status_code=201, response_model=schemas.EventOut)
async def create_event(data: schemas.EventIn, db: AsyncSession = Depends(get_db)):
    if await db.get(Venue, data.venue_id) is None:
        raise HTTPException(422, "unknown venue")
    fields = data.model_dump()
    fields["starts_at"] = to_utc_naive(data.starts_at)
    event = Event(**fields)
    db.add(event)
    await db.commit()
    return event


@app.post("/events/{event_id}/publish", response_model=schemas.EventOut)
async def publish_event(event_id: uuid.UUID, db: AsyncSession = Depends(get_db)):
    event = await load_event(db, event_id)
    if event.status is not EventStatus.draft:
        raise HTTPException(409, f"event is {event.status.value}")
    event.status = EventStatus.on_sale
    await db.commit()
    return event


@app.get("/events/{event_id}", response_model=schemas.EventOut)
async def get_event(event_id: uuid.UUID, db: AsyncSession = Depends(get_db)):
    return await load_event(db, event_id)


@app.get("/events", response_model=list[schemas.EventOut])
async def list_events(
    city: Optional[str] = None,
    after: Optional[datetime] = None,
    genre: Optional[str] = None,
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0),
    db: AsyncSession = Depends(get_db),
):
    query = select(Event).where(Event.status == EventStatus.on_sale)
    if city:
        query = query.join(Venue).where(Venue.city == city)
    if after:
        query = query.where(Event.starts_at >= to_utc_naive(after))
    if genre:
        query = query.where(Event.attrs["genre"].as_string() == genre)
    result = await db.scalars(query.order_by(Event.starts_at, Event.title).limit(limit).offset(offset))
    return result.all()


@app.get("/events/search/", response_model=list[schemas.EventOut])
async def search_events(q: str, db: AsyncSession = Depends(get_db)):
    result = await db.scalars(select(Event).where(Event.title.ilike(f"%{q}%")).order_by(Event.starts_at))
    return result.all()


@app.get("/events/age-restricted/", response_model=list[schemas.EventOut])
async def age_restricted_events(min_age: int = 18, db: AsyncSession = Depends(get_db)):
    """Events the door staff must check IDs for (``attrs.age_limit`` as set by the promoter)."""
    query = select(Event).where(cast(Event.attrs["age_limit"], Integer) >= min_age).order_by(Event.starts_at)
    return (await db.scalars(query)).all()


@app.get("/events/{event_id}/availability", response_model=schemas.Availability)
async def availability(event_id: uuid.UUID, db: AsyncSession = Depends(get_db)):
    event = await load_event(db, event_id)
    booked = await booked_seats(db, event_id)
    revenue = await db.scalar(
        select(func.coalesce(func.sum(Booking.amount), Decimal("0.00"))).where(
            Booking.event_id == event_id, Booking.status == BookingStatus.confirmed
        )
    )
    return {
        "event_id": event.id,
        "as_of": datetime.now(timezone.utc),
        "capacity": event.capacity,
        "booked": booked,
        "remaining": event.capacity - booked,
        "revenue": revenue,
    }


@app.post("/events/{event_id}/cancel")
async def cancel_event(event_id: uuid.UUID, db: AsyncSession = Depends(get_db)):
    event = await load_event(db, event_id)
    event.status = EventStatus.cancelled
    result = await db.execute(
        update(Booking)
        .where(Booking.event_id == event_id, Booking.status != BookingStatus.refunded)
        .values(status=BookingStatus.refunded)
    )
    await db.commit()
    return {"status": event.status.value, "refunded": result.rowcount}


# -- bookings ------------------------------------------------------------------------------


@app.post("/events/{event_id}/bookings", status_code=201, response_model=schemas.BookingOut)
async def book(event_id: uuid.UUID, data: schemas.BookingIn, db: AsyncSession = Depends(get_db)):
    event = await load_event(db, event_id)
    if event.status is not EventStatus.on_sale:
        raise HTTPException(409, "event is not on sale")
    if await booked_seats(db, event_id) + data.seats > event.capacity:
        raise HTTPException(409, "not enough seats left")
    booking = Booking(event=event, email=data.email.strip().lower(), seats=data.seats, amount=event.price * data.seats)
    db.add(booking)
    await db.commit()
    return booking_out(booking)


@app.get("/bookings/by-reference/{reference}", response_model=schemas.BookingSummary)
async def booking_by_reference(reference: str, db: AsyncSession = Depends(get_db)):
    row = (
        await db.execute(
            select(Booking.reference, Event.title.label("event_title"), Event.starts_at, Booking.seats, Booking.status)
            .join(Event)
            .where(Booking.reference == reference)
        )
    ).one_or_none()
    if row is None:
        raise HTTPException(404, "no such booking")
    return row._asdict()


@app.get("/customers/{email}/bookings", response_model=list[schemas.BookingSummary])
async def customer_bookings(email: str, db: AsyncSession = Depends(get_db)):
    rows = await db.execute(
        select(Booking.reference, Event.title.label("event_title"), Event.starts_at, Booking.seats, Booking.status)
        .join(Event)
        .where(Booking.email == email.strip().lower())
        .order_by(Event.starts_at, Booking.id)
    )
    return [row._asdict() for row in rows]


@app.get("/bookings/{public_id}/receipt")
async def receipt(public_id: str, db: AsyncSession = Depends(get_db)):
    """Used by the mailer, which only knows the public id as printed on the ticket."""
    row = (
        await db.execute(
            text(
                "SELECT b.reference, b.seats, b.amount, e.title FROM bookings b "
                "JOIN events e ON e.id = b.event_id WHERE b.public_id = :public_id"
            ),
            {"public_id": public_id},
        )
    ).one_or_none()
    if row is None:
        raise HTTPException(404, "no such booking")
    return {"reference": row.reference, "seats": row.seats, "amount": str(row.amount), "title": row.title}


@app.post("/bookings/{public_id}/confirm", response_model=schemas.BookingOut)
async def confirm_booking(public_id: uuid.UUID, db: AsyncSession = Depends(get_db)):
    """The box office confirms a held booking paid at the counter."""
    booking = await db.scalar(select(Booking).where(Booking.public_id == public_id))
    if booking is None:
        raise HTTPException(404, "no such booking")
    booking.status = BookingStatus.confirmed
    booking.confirmed_at = datetime.now(timezone.utc)
    await db.commit()
    await db.refresh(booking)
    return booking_out(booking)


@app.post("/webhooks/payments")
async def payment_webhook(data: schemas.PaymentWebhook, db: AsyncSession = Depends(get_db)):
    """The provider retries deliveries: record each delivery id once, and ignore repeats."""
    try:
        await db.execute(WebhookDelivery.__table__.insert().values(provider="payhub", delivery_id=data.delivery_id))
    except IntegrityError:
        booking = await db.scalar(select(Booking).where(Booking.reference == data.booking_reference))
        return {"status": "duplicate", "booking": booking.reference if booking else None}
    booking = await db.scalar(select(Booking).where(Booking.reference == data.booking_reference))
    if booking is None:
        await db.rollback()
        raise HTTPException(404, "no such booking")
    if data.paid:
        booking.status = BookingStatus.confirmed
        booking.confirmed_at = datetime.now(timezone.utc)
    await db.commit()
    return {"status": "processed", "booking": booking.reference}
