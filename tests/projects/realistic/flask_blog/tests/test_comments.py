import os

import pytest

from tests.factories import PostFactory


@pytest.fixture
def post():
    return PostFactory(slug="first-post")


@pytest.mark.expect("same")
def test_comment_is_published_immediately(client, post):
    r = client.post("/api/posts/first-post/comments", json={"author_name": "Bo", "body": "Great post!"})

    assert r.status_code == 201
    assert [c["body"] for c in client.get("/api/posts/first-post").json["comments"]] == ["Great post!"]


@pytest.mark.expect("same")
def test_comments_can_be_held_for_moderation(client, post):
    os.environ["BLOG_MODERATE_COMMENTS"] = "1"

    r = client.post("/api/posts/first-post/comments", json={"author_name": "Spam", "body": "Buy now"})

    assert r.status_code == 202
    assert r.json["status"] == "pending"
    assert client.get("/api/posts/first-post").json["comments"] == []


@pytest.mark.expect("same")
def test_moderation_queue_lists_pending_comments(client, author, post):
    client.post("/api/posts/first-post/comments", json={"author_name": "Cy", "body": "First!"})
    client.post("/api/comments", json={"post_id": post.id, "author_name": "Di", "body": "Second"})

    r = client.get("/api/admin/moderation")

    assert [c["author_name"] for c in r.json] == ["Cy", "Di"]


@pytest.mark.expect("diverged", category="constraints")
def test_widget_comment_on_unknown_post_is_rejected(client, post):
    r = client.post("/api/comments", json={"post_id": 9999, "author_name": "Eve", "body": "Hello?"})

    assert r.status_code == 404
    assert r.json == {"error": "unknown post"}
