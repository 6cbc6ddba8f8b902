import math
from datetime import datetime, timezone
from typing import Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Response
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import schemas
from .config import settings
from .db import get_db
from .models import ApiToken, Category, Customer, Order, OrderLine, Product
from .security import hash_password, new_api_token, verify_password

app = FastAPI(title="storefront")

SORTS = {"id": Product.id, "price": Product.price, "name": Product.name, "newest": Product.created_at.desc()}


def current_customer(authorization: Optional[str] = Header(None), db: Session = Depends(get_db)) -> Customer:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "missing token")
    token = db.scalar(select(ApiToken).where(ApiToken.token == authorization.removeprefix("Bearer ")))
    if token is None:
        raise HTTPException(401, "invalid token")
    token.last_used_at = datetime.utcnow()
    db.commit()
    return token.customer


# -- customers and auth ---------------------------------------------------------------


@app.post("/customers", status_code=201, response_model=schemas.CustomerOut)
def register(data: schemas.CustomerCreate, db: Session = Depends(get_db)):
    customer = Customer(email=data.email.lower(), full_name=data.full_name, password_hash=hash_password(data.password))
    db.add(customer)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, "email already registered") from None
    db.refresh(customer)
    return customer


@app.post("/auth/tokens", status_code=201, response_model=schemas.TokenOut)
def issue_token(data: schemas.TokenRequest, db: Session = Depends(get_db)):
    customer = db.scalar(select(Customer).where(Customer.email == data.email.lower()))
    if customer is None or not verify_password(data.password, customer.password_hash):
        raise HTTPException(401, "bad credentials")
    token = ApiToken(customer=customer, token=new_api_token(), label=data.label)
    db.add(token)
    db.commit()
    return token


@app.get("/me", response_model=schemas.CustomerOut)
def me(customer: Customer = Depends(current_customer)):
    return customer


@app.get("/me/stats", response_model=schemas.CustomerStats)
def my_stats(customer: Customer = Depends(current_customer), db: Session = Depends(get_db)):
    orders = db.scalar(select(func.count(Order.id)).where(Order.customer_id == customer.id))
    items, spent = db.execute(
        select(func.coalesce(func.sum(OrderLine.quantity), 0),
               func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price), 0))
        .join(Order)
        .where(Order.customer_id == customer.id, Order.status != "cancelled")
    ).one()
    return {"orders": orders, "items": items, "spent": spent}


# -- catalog ---------------------------------------------------------------------------


@app.post("/categories", status_code=201, response_model=schemas.CategoryOut)
def create_category(data: schemas.CategoryIn, db: Session = Depends(get_db)):
    category = Category(slug=data.slug, name=data.name)
    db.add(category)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, "category already exists") from None
    return category


@app.get("/products", response_model=schemas.ProductPage)
def list_products(
    page: int = Query(1, ge=1),
    per_page: int = Query(settings.default_page_size, ge=1, le=settings.max_page_size),
    sort: str = "id",
    category: Optional[str] = None,
    db: Session = Depends(get_db),
):
    query = select(Product).where(Product.is_active.is_(True))
    if category:
        query = query.join(Category).where(Category.slug == category)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    items = db.scalars(query.order_by(SORTS[sort]).limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "total": total, "page": page, "pages": math.ceil(total / per_page) if total else 0}


@app.get("/products/search", response_model=list[schemas.ProductOut])
def search_products(q: str, db: Session = Depends(get_db)):
    pattern = f"%{q}%"
    query = select(Product).where(or_(Product.name.like(pattern), Product.sku.like(pattern))).order_by(Product.id)
    return db.scalars(query).all()


@app.get("/products/{product_id}", response_model=schemas.ProductOut)
def get_product(product_id: int, db: Session = Depends(get_db)):
    product = db.get(Product, product_id)
    if product is None:
        raise HTTPException(404, "no such product")
    return product


@app.post("/products", status_code=201, response_model=schemas.ProductOut)
def create_product(data: schemas.ProductIn, db: Session = Depends(get_db)):
    product = Product(**data.model_dump())
    db.add(product)
    db.commit()
    db.refresh(product)
    return product


@app.patch("/products/{product_id}", response_model=schemas.ProductOut)
def update_product(product_id: int, data: schemas.ProductPatch, db: Session = Depends(get_db)):
    product = db.get(Product, product_id)
    if product is None:
        raise HTTPException(404, "no such product")
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(product, field, value)
    db.commit()
    db.refresh(product)
    return product


@app.delete("/products/{product_id}", status_code=204)
def delete_product(product_id: int, db: Session = Depends(get_db)):
    product = db.get(Product, product_id)
    if product is None:
        raise HTTPException(404, "no such product")
    db.delete(product)
    db.commit()
    return Response(status_code=204)


# -- orders ----------------------------------------------------------------------------


@app.post("/orders", status_code=201, response_model=schemas.OrderOut)
def place_order(data: schemas.OrderIn, customer: Customer = Depends(current_customer), db: Session = Depends(get_db)):
    order = Order(customer=customer, note=data.note)
    db.add(order)
    for line in data.lines:
        product = db.get(Product, line.product_id)
        if product is None or not product.is_active:
            db.rollback()
            raise HTTPException(404, f"no such product: {line.product_id}")
        if product.stock < line.quantity:
            db.rollback()
            raise HTTPException(409, f"only {product.stock} left of {product.sku}")
        product.stock -= line.quantity
        order.lines.append(OrderLine(product=product, quantity=line.quantity, unit_price=product.price))
    db.commit()
    return order


@app.get("/orders/{public_id}", response_model=schemas.OrderOut)
def get_order(public_id: str, customer: Customer = Depends(current_customer), db: Session = Depends(get_db)):
    order = db.scalar(select(Order).where(Order.public_id == public_id, Order.customer_id == customer.id))
    if order is None:
        raise HTTPException(404, "no such order")
    return order


@app.post("/orders/{public_id}/cancel", response_model=schemas.OrderOut)
def cancel_order(public_id: str, customer: Customer = Depends(current_customer), db: Session = Depends(get_db)):
    order = db.scalar(select(Order).where(Order.public_id == public_id, Order.customer_id == customer.id))
    if order is None:
        raise HTTPException(404, "no such order")
    if order.status != "pending":
        raise HTTPException(409, f"order is {order.status}")
    # restock inside a savepoint: a failure leaves the order untouched
    with db.begin_nested():
        for line in order.lines:
            line.product.stock += line.quantity
        order.status = "cancelled"
    db.commit()
    return order


@app.post("/orders/{public_id}/ship", response_model=schemas.OrderOut)
def ship_order(public_id: str, db: Session = Depends(get_db)):
    """Called by the warehouse system."""
    order = db.scalar(select(Order).where(Order.public_id == public_id))
    if order is None:
        raise HTTPException(404, "no such order")
    if order.status != "pending":
        raise HTTPException(409, f"order is {order.status}")
    order.status = "shipped"
    order.shipped_at = datetime.now(timezone.utc)
    db.commit()
    return order
