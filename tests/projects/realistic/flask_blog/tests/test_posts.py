from datetime import datetime

import pytest
from sqlalchemy import func, select

from blog.models import Comment, Post, Tag
from tests.factories import CommentFactory, DraftFactory, PostFactory


@pytest.mark.expect("same")
def test_published_posts_are_paginated_newest_first(client, observe):
    PostFactory.create_batch(12)
    DraftFactory.create_batch(2)

    first = client.get("/api/posts").json
    last = client.get("/api/posts?page=3").json

    assert (first["total"], first["pages"], len(first["items"]), len(last["items"])) == (12, 3, 5, 2)
    dates = [p["published_at"] for p in first["items"]]
    assert dates == sorted(dates, reverse=True)
    observe("first page", first)


@pytest.mark.expect("same")
def test_post_detail_counts_views(client):
    post = PostFactory(slug="hello-world", views=41)
    CommentFactory.create_batch(2, post=post)

    r = client.get("/api/posts/hello-world")

    assert r.json["views"] == 42
    assert len(r.json["comments"]) == 2
    assert client.get("/api/posts/no-such-post").status_code == 404


@pytest.mark.expect("same")
def test_create_post_with_tags(client, author, session):
    r = client.post("/api/posts", json={"title": "Why I like SQLAlchemy 2", "body": "Typed mappings.",
                                        "tags": ["Python", "sqlalchemy"]})

    assert r.status_code == 201
    assert r.json["slug"] == "why-i-like-sqlalchemy-2"
    assert r.json["tags"] == ["python", "sqlalchemy"]
    assert r.json["published_at"] is None
    assert session.scalar(select(func.count()).select_from(Tag)) == 2


@pytest.mark.expect("same")
def test_create_post_reuses_seeded_tags(client, author, seeded_tags, session):
    r = client.post("/api/posts", json={"title": "Flask tips", "tags": ["flask", "python"]})

    assert r.json["tags"] == ["flask", "python"]
    assert session.scalar(select(func.count()).select_from(Tag)) == 2


@pytest.mark.expect("diverged", category="sequences")
def test_create_post_with_a_new_tag(client, author, seeded_tags, session):
    r = client.post("/api/posts", json={"title": "Testing Flask apps", "tags": ["flask", "testing"]})

    assert r.status_code == 201
    assert r.json["tags"] == ["flask", "testing"]


@pytest.mark.expect("same")
def test_publish_post(client, author, session):
    DraftFactory(author=author, slug="draft-1")
    assert client.get("/api/posts").json["total"] == 0

    r = client.post("/api/posts/draft-1/publish")

    published_at = datetime.fromisoformat(r.json["published_at"])
    assert (datetime.utcnow() - published_at).total_seconds() < 60
    assert [p["slug"] for p in client.get("/api/posts").json["items"]] == ["draft-1"]


@pytest.mark.expect("same")
def test_only_the_author_can_publish(client, author):
    PostFactory(slug="someone-elses")

    assert client.post("/api/posts/someone-elses/publish").status_code == 403


@pytest.mark.expect("same")
def test_delete_post_removes_its_comments(client, author, session):
    post = PostFactory(author=author, slug="bye")
    CommentFactory.create_batch(3, post=post)
    CommentFactory()  # on another post

    assert client.delete("/api/posts/bye").status_code == 204
    assert session.scalar(select(func.count()).select_from(Comment)) == 1
    assert session.scalar(select(func.count()).select_from(Post)) == 1


@pytest.mark.expect("same")
def test_search_ignores_case(client):
    PostFactory(title="Deploying Flask on Kubernetes")
    PostFactory(title="My garden in spring", body="Nothing about FLASK here... or is there?")
    PostFactory(title="Rust for Pythonistas", body="Ownership.")

    r = client.get("/api/search?q=flask")

    assert sorted(p["title"] for p in r.json) == ["Deploying Flask on Kubernetes", "My garden in spring"]


@pytest.mark.expect("diverged", category="nulls")
def test_admin_post_list_shows_latest_publication_first(client, author):
    PostFactory(author=author, slug="old", published_at=datetime(2024, 1, 5, 9, 0))
    PostFactory(author=author, slug="new", published_at=datetime(2024, 3, 1, 9, 0))
    DraftFactory(author=author, slug="wip")

    r = client.get("/api/admin/posts")

    assert [p["slug"] for p in r.json][:2] == ["new", "old"]
