"""The async application: FastAPI + async SQLAlchemy, one AsyncSession per request."""

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from .models import Customer, Order
from .schemas import CustomerIn, OrderIn

engine = create_async_engine("sqlite+aiosqlite:///./shop.db")
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


async def get_db():
    async with SessionLocal() as session:
        yield session


@app.post("/customers", status_code=201)
async def create_customer(data: CustomerIn, db: AsyncSession = Depends(get_db)):
    customer = Customer(email=data.email, name=data.name)
    db.add(customer)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, "email already registered") from None
    return {"id": customer.id, "email": customer.email, "name": customer.name}


@app.get("/customers")
async def list_customers(name_like: str | None = None, db: AsyncSession = Depends(get_db)):
    query = select(Customer).order_by(Customer.name)
    if name_like:
        query = query.where(Customer.name.like(f"%{name_like}%"))
    return [{"id": c.id, "name": c.name} for c in (await db.scalars(query)).all()]


@app.post("/customers/{customer_id}/orders", status_code=201)
async def add_order(customer_id: int, data: OrderIn, db: AsyncSession = Depends(get_db)):
    order = Order(customer_id=customer_id, total=data.total)
    db.add(order)
    await db.commit()
    return {"id": order.id}


@app.get("/customers/{customer_id}/total")
async def customer_total(customer_id: int, db: AsyncSession = Depends(get_db)):
    total = await db.scalar(select(func.coalesce(func.sum(Order.total), 0)).where(Order.customer_id == customer_id))
    return {"total": str(total)}
