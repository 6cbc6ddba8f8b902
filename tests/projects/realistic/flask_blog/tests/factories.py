import factory
from argon2 import PasswordHasher
from factory.alchemy import SQLAlchemyModelFactory

from blog.db import db
from blog.models import Comment, Post, Tag, User

# argon2 with the app's test parameters (see conftest.py): hashing is slow by design
_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "tr0ub4dor&3"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session = db.session  # the scoped session: bound to the test's connection in conftest.py
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password_hash = factory.LazyFunction(lambda: _hasher.hash(PASSWORD))
    created_at = factory.Faker("past_datetime", start_date="-90d")


class PostFactory(BaseFactory):
    class Meta:
        model = Post

    author = factory.SubFactory(UserFactory)
    title = factory.Faker("sentence", nb_words=5)
    slug = factory.Sequence(lambda n: f"post-{n}")
    body = factory.Faker("paragraph", nb_sentences=4)
    published_at = factory.Faker("date_time_this_year", before_now=True, after_now=False)
    created_at = factory.Faker("date_time")


class DraftFactory(PostFactory):
    published_at = None


class CommentFactory(BaseFactory):
    class Meta:
        model = Comment

    post = factory.SubFactory(PostFactory)
    author_name = factory.Faker("first_name")
    body = factory.Faker("sentence")


class TagFactory(BaseFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag{n}")
