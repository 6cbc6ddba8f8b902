import re
from datetime import datetime

from flask import Blueprint, abort, current_app, jsonify, request, session
from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import IntegrityError

from . import features
from .auth import check_password, hash_password
from .db import db
from .models import Comment, Post, Tag, User, post_tags

bp = Blueprint("api", __name__, url_prefix="/api")


# -- serialisation ---------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def user_json(user: User) -> dict:
    return {"id": user.id, "username": user.username, "created_at": _iso(user.created_at)}


def post_json(post: Post, full: bool = False) -> dict:
    data = {
        "id": post.public_id,
        "slug": post.slug,
        "title": post.title,
        "author": post.author.username,
        "published_at": _iso(post.published_at),
        "tags": sorted(t.name for t in post.tags),
    }
    if full:
        data["body"] = post.body
        data["views"] = post.views
        data["comments"] = [comment_json(c) for c in post.comments if c.approved]
    return data


def comment_json(comment: Comment) -> dict:
    return {
        "id": comment.id,
        "author_name": comment.author_name,
        "body": comment.body,
        "status": "published" if comment.approved else "pending",
        "created_at": _iso(comment.created_at),
    }


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def current_user() -> User:
    user = db.session.get(User, session.get("user_id", 0))
    if user is None:
        abort(401)
    return user


def _post_or_404(slug: str) -> Post:
    return db.first_or_404(select(Post).where(Post.slug == slug))


# -- accounts --------------------------------------------------------------------------


@bp.post("/register")
def register():
    data = request.get_json()
    user = User(username=data["username"], email=data["email"], password_hash=hash_password(data["password"]))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return jsonify(error="username or email taken"), 409
    return jsonify(user_json(user)), 201


@bp.post("/login")
def login():
    data = request.get_json()
    user = db.session.scalar(select(User).where(User.username == data["username"]))
    if user is None or not check_password(user.password_hash, data["password"]):
        return jsonify(error="bad credentials"), 401
    session["user_id"] = user.id
    return jsonify(user_json(user))


# -- posts -----------------------------------------------------------------------------


@bp.get("/posts")
def list_posts():
    query = (
        select(Post)
        .where(Post.published_at.is_not(None))
        .order_by(Post.published_at.desc(), Post.id.desc())
    )
    page = db.paginate(query, per_page=current_app.config["POSTS_PER_PAGE"], error_out=False)
    return jsonify(items=[post_json(p) for p in page.items], total=page.total, page=page.page, pages=page.pages)


@bp.get("/search")
def search():
    q = request.args.get("q", "").strip()
    pattern = f"%{q}%"
    posts = db.session.scalars(
        select(Post)
        .where(Post.published_at.is_not(None), or_(Post.title.ilike(pattern), Post.body.ilike(pattern)))
        .order_by(Post.published_at.desc())
        .limit(20)
    ).all()
    return jsonify([post_json(p) for p in posts])


def get_or_create_tag(name: str) -> Tag:
    tag = db.session.scalar(select(Tag).where(Tag.name == name))
    if tag is not None:
        return tag
    try:
        with db.session.begin_nested():  # another request may be creating the same tag
            tag = Tag(name=name)
            db.session.add(tag)
    except IntegrityError:
        tag = db.session.scalar(select(Tag).where(Tag.name == name))
    return tag


@bp.post("/posts")
def create_post():
    author = current_user()
    data = request.get_json()
    post = Post(author=author, title=data["title"], slug=slugify(data["title"]), body=data.get("body", ""))
    db.session.add(post)
    post.tags = [get_or_create_tag(name.strip().lower()) for name in data.get("tags", [])]
    db.session.commit()
    return jsonify(post_json(post, full=True)), 201


@bp.get("/posts/<slug>")
def show_post(slug):
    post = _post_or_404(slug)
    post.views = Post.views + 1
    db.session.commit()
    return jsonify(post_json(post, full=True))


@bp.post("/posts/<slug>/publish")
def publish_post(slug):
    post = _post_or_404(slug)
    if post.author_id != current_user().id:
        abort(403)
    post.published_at = datetime.utcnow()
    db.session.commit()
    return jsonify(post_json(post))


@bp.delete("/posts/<slug>")
def delete_post(slug):
    post = _post_or_404(slug)
    if post.author_id != current_user().id:
        abort(403)
    db.session.delete(post)
    db.session.commit()
    return "", 204


@bp.get("/admin/posts")
def admin_posts():
    """Everything the author wrote, most recently published first."""
    author = current_user()
    posts = db.session.scalars(
        select(Post).where(Post.author_id == author.id).order_by(Post.published_at.desc())
    ).all()
    return jsonify([post_json(p) for p in posts])


# -- comments --------------------------------------------------------------------------


@bp.post("/posts/<slug>/comments")
def add_comment(slug):
    post = _post_or_404(slug)
    data = request.get_json()
    comment = Comment(post=post, author_name=data["author_name"], body=data["body"],
                      approved=not features.comments_moderated())
    db.session.add(comment)
    db.session.commit()
    return jsonify(comment_json(comment)), (201 if comment.approved else 202)


@bp.post("/comments")
def widget_comment():
    """The embeddable comment widget posts the post's numeric id."""
    data = request.get_json()
    comment = Comment(post_id=data["post_id"], author_name=data["author_name"], body=data["body"],
                      approved=not features.comments_moderated())
    db.session.add(comment)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return jsonify(error="unknown post"), 404
    return jsonify(comment_json(comment)), (201 if comment.approved else 202)


@bp.get("/admin/moderation")
def moderation_queue():
    current_user()
    pending = db.session.scalars(select(Comment).where(Comment.approved.is_(False)).order_by(Comment.id)).all()
    return jsonify([comment_json(c) for c in pending])


# -- authors, tags, stats --------------------------------------------------------------


@bp.get("/authors")
def authors():
    rows = db.session.execute(
        select(User.username, func.count(Post.id))
        .outerjoin(Post, Post.author_id == User.id)
        .group_by(User.id, User.username)
        .order_by(User.username)
    ).all()
    return jsonify([{"username": name, "posts": n} for name, n in rows])


@bp.get("/authors/<username>/tags")
def author_tags(username):
    user = db.first_or_404(select(User).where(User.username == username))
    tags = db.session.scalar(
        select(func.group_concat(Tag.name.distinct()))
        .select_from(Post)
        .join(post_tags)
        .join(Tag)
        .where(Post.author_id == user.id)
    )
    return jsonify(username=user.username, tags=sorted(tags.split(",")) if tags else [])


@bp.get("/tags")
def tag_cloud():
    rows = db.session.execute(
        select(Tag.name, func.count(post_tags.c.post_id).label("n"))
        .join(post_tags)
        .group_by(Tag.name)
        .order_by(func.count(post_tags.c.post_id).desc(), Tag.name)
    ).all()
    return jsonify([{"name": name, "posts": n} for name, n in rows])


@bp.get("/stats")
def stats():
    published = Post.published_at.is_not(None)
    posts, views = db.session.execute(
        select(func.count(Post.id), func.coalesce(func.sum(Post.views), 0)).where(published)
    ).one()
    comments = db.session.scalar(select(func.count(Comment.id)).where(Comment.approved.is_(True)))
    return jsonify(posts=posts, views=views, comments=comments)


@bp.get("/admin/stats")
def admin_stats():
    current_user()
    row = db.session.execute(text(
        "SELECT (SELECT COUNT(*) FROM users) AS users, "
        "(SELECT COUNT(*) FROM users WHERE is_admin = 1) AS admins, "
        "(SELECT COUNT(*) FROM posts WHERE published_at IS NULL) AS drafts"
    )).one()
    return jsonify(users=row.users, admins=row.admins, drafts=row.drafts)
