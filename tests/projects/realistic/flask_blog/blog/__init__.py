"""A small blog with a JSON API: Flask + Flask-SQLAlchemy 3."""

from flask import Flask

from .db import db


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI="sqlite:///blog.db",
        SECRET_KEY="dev",
        ARGON2_TIME_COST=3,
        ARGON2_MEMORY_COST=65536,
        POSTS_PER_PAGE=10,
    )
    if config:
        app.config.from_mapping(config)
    db.init_app(app)

    from . import views

    app.register_blueprint(views.bp)
    return app
