import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .models import BookingStatus, EventStatus


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VenueIn(BaseModel):
    name: str
    city: str
    timezone: str = "UTC"


class VenueOut(ORMModel):
    id: int
    name: str
    city: str
    timezone: str


class EventIn(BaseModel):
    venue_id: int
    title: str
    starts_at: datetime
    price: Decimal = Field(ge=0, decimal_places=2)
    capacity: int = Field(gt=0)
    attrs: dict[str, Any] = {}


class EventOut(ORMModel):
    id: uuid.UUID
    venue_id: int
    title: str
    starts_at: datetime
    price: Decimal
    capacity: int
    status: EventStatus
    attrs: dict[str, Any]
    created_at: datetime


class BookingIn(BaseModel):
    email: str
    seats: int = Field(gt=0, le=10)


class BookingOut(ORMModel):
    public_id: uuid.UUID
    event_id: uuid.UUID
    email: str
    seats: int
    amount: Decimal
    status: BookingStatus
    reference: str
    created_at: datetime
    confirmed_at: Optional[datetime] = None
    hold_expires_at: Optional[datetime] = None


class BookingSummary(BaseModel):
    reference: str
    event_title: str
    starts_at: datetime
    seats: int
    status: BookingStatus


class Availability(BaseModel):
    event_id: uuid.UUID
    as_of: datetime
    capacity: int
    booked: int
    remaining: int
    revenue: Decimal


class PaymentWebhook(BaseModel):
    delivery_id: str
    booking_reference: str
    paid: bool = True
