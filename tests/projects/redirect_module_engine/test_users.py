from app.service import add_user, find


def test_add_and_find():
    add_user("alice")
    add_user("bob")
    assert find("a%") == ["alice"]


def test_like_is_case_insensitive():
    add_user("Alice")
    assert find("alice") == ["Alice"]  # SQLite's LIKE ignores ASCII case; PostgreSQL's does not


def test_no_database():
    assert sum([1, 2]) == 3
