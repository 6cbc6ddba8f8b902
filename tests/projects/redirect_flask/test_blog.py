def test_create_post(client):
    response = client.post("/posts", json={"title": "Hello"})
    assert response.status_code == 201
    assert response.json == {"id": 1, "title": "Hello"}


def test_search_ignores_case(client):
    client.post("/posts", json={"title": "Flask tips"})
    client.post("/posts", json={"title": "More flask"})
    assert client.get("/search?q=flask").json == ["Flask tips", "More flask"]  # SQLite LIKE ignores case


def test_settings_are_for_testing(app):
    assert app.config["TESTING"] is True
