import uuid
from datetime import datetime
from decimal import Decimal
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CustomerCreate(BaseModel):
    email: str
    full_name: str = Field(max_length=80)
    password: str = Field(min_length=8)


class CustomerOut(ORMModel):
    public_id: uuid.UUID
    email: str
    full_name: str
    created_at: datetime


class TokenRequest(BaseModel):
    email: str
    password: str
    label: str = "default"


class TokenOut(ORMModel):
    token: str
    label: str
    created_at: datetime


class CategoryIn(BaseModel):
    slug: str
    name: str


class CategoryOut(ORMModel):
    id: int
    slug: str
    name: str


class ProductIn(BaseModel):
    sku: str
    name: str
    price: Decimal
    stock: int = 0
    description: Optional[str] = None
    category_id: Optional[int] = None


class ProductPatch(BaseModel):
    name: Optional[str] = None
    price: Optional[Decimal] = None
    stock: Optional[int] = None
    is_active: Optional[bool] = None


class ProductOut(ORMModel):
    id: int
    sku: str
    name: str
    price: Decimal
    stock: int
    is_active: bool
    created_at: datetime
    updated_at: Optional[datetime] = None


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int
    page: int
    pages: int


class OrderLineIn(BaseModel):
    product_id: int
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    lines: list[OrderLineIn]
    note: Optional[str] = None


class OrderLineOut(ORMModel):
    product_id: int
    quantity: int
    unit_price: Decimal


class OrderOut(ORMModel):
    public_id: str
    status: str
    placed_at: datetime
    shipped_at: Optional[datetime] = None
    total: Decimal
    lines: list[OrderLineOut]


class CustomerStats(BaseModel):
    orders: int
    items: int
    spent: Decimal
