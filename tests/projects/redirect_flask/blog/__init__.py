"""A Flask-SQLAlchemy app factory, configured from a settings object."""

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


class Post(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


def create_app(settings: object) -> Flask:
    app = Flask(__name__)
    app.config.from_object(settings)
    db.init_app(app)

    @app.post("/posts")
    def create_post():
        post = Post(title=request.json["title"])
        db.session.add(post)
        db.session.commit()
        return jsonify(id=post.id, title=post.title), 201

    @app.get("/search")
    def search():
        pattern = f"%{request.args['q']}%"
        titles = db.session.scalars(select(Post.title).where(Post.title.like(pattern)).order_by(Post.id)).all()
        return jsonify(titles)

    return app
