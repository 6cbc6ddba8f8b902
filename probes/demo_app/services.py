"""Business logic of the demo shop-and-blog API.

Written the way a team that develops against SQLite writes it: every function works
on SQLite. Several of them behave differently on PostgreSQL (see
``probes/test_api.py``, which calls them through the HTTP routes).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dualdb.probes.demo_app.models import Author, Order, Post, Product, Tag, User


class Conflict(Exception):
    """The request conflicts with existing data (HTTP 409)."""


class NotFound(Exception):
    """The requested object does not exist (HTTP 404)."""


# ------------------------------------------------------------------------ products
def list_products(db: Session, sort: str = "name", color: Optional[str] = None) -> list[Product]:
    query = select(Product)
    if color is not None:
        query = query.where(Product.attributes["color"].as_string() == color)
    if sort == "name":
        query = query.order_by(Product.name)
    elif sort == "price":
        query = query.order_by(Product.price, Product.id)
    elif sort == "rank":
        # "rank" is a merchandising attribute stored in the JSON column
        query = query.order_by(Product.attributes["rank"])
    return list(db.scalars(query))


def search_products(db: Session, q: str) -> list[Product]:
    return list(db.scalars(
        select(Product).where(Product.name.like(f"%{q}%")).order_by(Product.id)
    ))


def get_product(db: Session, product_id: int) -> Product:
    product = db.get(Product, product_id)
    if product is None:
        raise NotFound(f"product {product_id}")
    return product


def create_product(db: Session, *, sku: str, name: str, price: Decimal,
                   stock: int = 0, category: Optional[str] = None,
                   attributes: Optional[dict[str, Any]] = None) -> Product:
    product = Product(sku=sku, name=name, price=price, stock=stock, category=category,
                      attributes=attributes or {})
    db.add(product)
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise Conflict(f"sku {sku!r} already exists") from exc
    db.refresh(product)
    return product


def product_stats(db: Session) -> dict[str, Any]:
    count, avg_stock = db.execute(select(func.count(Product.id), func.avg(Product.stock))).one()
    return {"products": count, "avg_stock": avg_stock}


# ---------------------------------------------------------------------------- blog
def list_posts(db: Session, sort: str = "-rating") -> list[Post]:
    if sort == "-rating":
        order = (Post.rating.desc(),)
    else:
        order = (Post.id,)
    return list(db.scalars(select(Post).order_by(*order)))


def get_post(db: Session, post_id: int) -> Post:
    post = db.get(Post, post_id)
    if post is None:
        raise NotFound(f"post {post_id}")
    return post


def rename_post(db: Session, post_id: int, title: str) -> Post:
    post = get_post(db, post_id)
    post.title = title
    db.commit()
    return post


def author_posts(db: Session, author_id: int) -> list[Post]:
    author = db.get(Author, author_id)
    if author is None:
        raise NotFound(f"author {author_id}")
    return list(author.posts)


def tag_cloud(db: Session) -> list[dict[str, Any]]:
    rows = db.execute(
        select(Tag.name, func.count(Post.id).label("posts"))
        .join(Post.tags)
        .group_by(Tag.name)
        .order_by(func.count(Post.id).desc(), Tag.name)
    ).all()
    return [{"name": name, "posts": posts} for name, posts in rows]


# -------------------------------------------------------------------------- orders
def place_order(db: Session, *, user_id: int, total: Decimal) -> Order:
    order = Order(user_id=user_id, total=total)
    db.add(order)
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise Conflict("order refused by the database") from exc
    return order


def create_user(db: Session, *, email: str, username: str, first_name: str,
                last_name: str) -> User:
    user = User(email=email, username=username, first_name=first_name, last_name=last_name)
    db.add(user)
    db.commit()
    return user
