"""The sync twin of ``api``: the same endpoints on a plain Session."""

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .models import Customer, Order
from .schemas import CustomerIn, OrderIn

engine = create_engine("sqlite:///./shop.db")
SessionLocal = sessionmaker(engine)
app = FastAPI()


def get_db():
    with SessionLocal() as session:
        yield session


@app.post("/customers", status_code=201)
def create_customer(data: CustomerIn, db: Session = Depends(get_db)):
    customer = Customer(email=data.email, name=data.name)
    db.add(customer)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, "email already registered") from None
    return {"id": customer.id, "email": customer.email, "name": customer.name}


@app.get("/customers")
def list_customers(name_like: str | None = None, db: Session = Depends(get_db)):
    query = select(Customer).order_by(Customer.name)
    if name_like:
        query = query.where(Customer.name.like(f"%{name_like}%"))
    return [{"id": c.id, "name": c.name} for c in db.scalars(query).all()]


@app.post("/customers/{customer_id}/orders", status_code=201)
def add_order(customer_id: int, data: OrderIn, db: Session = Depends(get_db)):
    order = Order(customer_id=customer_id, total=data.total)
    db.add(order)
    db.commit()
    return {"id": order.id}


@app.get("/customers/{customer_id}/total")
def customer_total(customer_id: int, db: Session = Depends(get_db)):
    total = db.scalar(select(func.coalesce(func.sum(Order.total), 0)).where(Order.customer_id == customer_id))
    return {"total": str(total)}
