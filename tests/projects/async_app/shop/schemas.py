from decimal import Decimal

from pydantic import BaseModel


class CustomerIn(BaseModel):
    email: str
    name: str


class OrderIn(BaseModel):
    total: Decimal
