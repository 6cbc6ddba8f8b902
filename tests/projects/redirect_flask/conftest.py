import pytest

from blog import create_app, db
from blog.settings import Testing


@pytest.fixture
def app():
    app = create_app(Testing)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()


@pytest.fixture
def client(app):
    return app.test_client()
