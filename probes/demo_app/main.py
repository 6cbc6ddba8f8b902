"""A small FastAPI shop-and-blog API: products (with JSON attributes), search,
posts with authors and tags, orders.

Run it (SQLite by default, like the team's laptop):

    DEMO_DATABASE_URL=sqlite:///./demo.db uvicorn dualdb.probes.demo_app.main:app

Tests replace the ``get_db`` dependency with the test's session:
``app.dependency_overrides[get_db] = lambda: db_session``.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Optional

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from dualdb.probes.demo_app import services

DATABASE_URL = os.environ.get("DEMO_DATABASE_URL", "sqlite:///./demo.db")
engine = create_engine(DATABASE_URL)
SessionLocal = sessionmaker(bind=engine, autoflush=False)


def get_db() -> Iterator[Session]:
    """One session per request (overridden in tests)."""
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


app = FastAPI(title="dualdb demo shop")


@app.exception_handler(services.Conflict)
def _conflict(request: Request, exc: services.Conflict) -> JSONResponse:
    return JSONResponse(status_code=409, content={"detail": str(exc)})


@app.exception_handler(services.NotFound)
def _not_found(request: Request, exc: services.NotFound) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": f"{exc} not found"})


# ------------------------------------------------------------------------- schemas
class ProductIn(BaseModel):
    sku: str
    name: str
    price: Decimal
    stock: int = 0
    category: Optional[str] = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    price: Decimal
    stock: int
    category: Optional[str]
    attributes: Optional[dict[str, Any]]


class StatsOut(BaseModel):
    products: int
    avg_stock: Optional[float]


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    author_id: int
    rating: Optional[float]
    published_at: Optional[dt.datetime]


class PostRename(BaseModel):
    title: str


class TagCount(BaseModel):
    name: str
    posts: int


class OrderIn(BaseModel):
    user_id: int
    total: Decimal


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    status: str
    total: Decimal


# -------------------------------------------------------------------------- routes
@app.get("/products", response_model=list[ProductOut])
def list_products(sort: str = "name", color: Optional[str] = None,
                  db: Session = Depends(get_db)):
    return services.list_products(db, sort=sort, color=color)


@app.get("/products/search", response_model=list[ProductOut])
def search_products(q: str, db: Session = Depends(get_db)):
    return services.search_products(db, q)


@app.get("/products/stats", response_model=StatsOut)
def product_stats(db: Session = Depends(get_db)):
    return services.product_stats(db)


@app.get("/products/{product_id}", response_model=ProductOut)
def get_product(product_id: int, db: Session = Depends(get_db)):
    return services.get_product(db, product_id)


@app.post("/products", response_model=ProductOut, status_code=201)
def create_product(payload: ProductIn, db: Session = Depends(get_db)):
    return services.create_product(db, **payload.model_dump())


@app.get("/posts", response_model=list[PostOut])
def list_posts(sort: str = "-rating", db: Session = Depends(get_db)):
    return services.list_posts(db, sort=sort)


@app.get("/posts/{post_id}", response_model=PostOut)
def get_post(post_id: int, db: Session = Depends(get_db)):
    return services.get_post(db, post_id)


@app.patch("/posts/{post_id}", response_model=PostOut)
def rename_post(post_id: int, payload: PostRename, db: Session = Depends(get_db)):
    return services.rename_post(db, post_id, payload.title)


@app.get("/authors/{author_id}/posts", response_model=list[PostOut])
def author_posts(author_id: int, db: Session = Depends(get_db)):
    return services.author_posts(db, author_id)


@app.get("/tags", response_model=list[TagCount])
def tag_cloud(db: Session = Depends(get_db)):
    return services.tag_cloud(db)


@app.post("/orders", response_model=OrderOut, status_code=201)
def place_order(payload: OrderIn, db: Session = Depends(get_db)):
    return services.place_order(db, user_id=payload.user_id, total=payload.total)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
