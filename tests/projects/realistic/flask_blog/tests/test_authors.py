import pytest

from tests.factories import DraftFactory, PostFactory, TagFactory, UserFactory


@pytest.fixture
def tagged_posts():
    python, flask, sql = TagFactory(name="python"), TagFactory(name="flask"), TagFactory(name="sql")
    ada = UserFactory(username="ada")
    PostFactory(author=ada, tags=[python, flask])
    PostFactory(author=ada, tags=[python])
    PostFactory(tags=[sql, python])
    return ada


@pytest.mark.expect("same")
def test_tag_cloud(client, tagged_posts, observe):
    r = client.get("/api/tags")

    observe("tags", r.json)
    assert r.json == [{"name": "python", "posts": 3}, {"name": "flask", "posts": 1}, {"name": "sql", "posts": 1}]


@pytest.mark.expect("same")
def test_site_stats(client):
    PostFactory(views=10)
    PostFactory(views=32)
    DraftFactory(views=5)

    assert client.get("/api/stats").json == {"posts": 2, "views": 42, "comments": 0}


@pytest.mark.expect("diverged", category="collation", needs="linguistic")
def test_author_directory_is_alphabetical(client, observe):
    for name in ["bob", "Alice", "carol", "Dave"]:
        UserFactory(username=name)

    r = client.get("/api/authors")

    observe("authors", r.json)
    assert [a["username"] for a in r.json] == ["Alice", "Dave", "bob", "carol"]


@pytest.mark.expect("diverged", category="sql_syntax")
def test_author_tag_summary(client, tagged_posts):
    r = client.get("/api/authors/ada/tags")

    assert r.json == {"username": "ada", "tags": ["flask", "python"]}


@pytest.mark.expect("diverged", category="types")
def test_admin_dashboard_counts(client, author):
    UserFactory(is_admin=True)
    UserFactory()
    DraftFactory(author=author)

    r = client.get("/api/admin/stats")

    assert r.json == {"users": 3, "admins": 1, "drafts": 1}
