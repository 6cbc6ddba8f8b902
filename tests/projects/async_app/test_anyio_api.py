"""The async app under anyio: the same scenarios as test_async_api.py."""

import pytest

pytestmark = pytest.mark.anyio


async def test_create_customer(anyio_client, observe):
    r = await anyio_client.post("/customers", json={"email": "ann@x.io", "name": "Ann"})
    assert r.status_code == 201
    observe("body", r.json())
    assert r.json()["id"] == 1


async def test_search_ignores_case(anyio_client):
    await anyio_client.post("/customers", json={"email": "alice@x.io", "name": "Alice"})
    r = await anyio_client.get("/customers", params={"name_like": "alice"})
    assert [c["name"] for c in r.json()] == ["Alice"]


async def test_names_sorted(anyio_client, observe):
    for i, name in enumerate(["bob", "Bea", "al"]):
        await anyio_client.post("/customers", json={"email": f"{i}@x.io", "name": name})
    r = await anyio_client.get("/customers")
    observe("names", [c["name"] for c in r.json()])


async def test_duplicate_email(anyio_client):
    first = await anyio_client.post("/customers", json={"email": "dup@x.io", "name": "One"})
    second = await anyio_client.post("/customers", json={"email": "dup@x.io", "name": "Two"})
    assert (first.status_code, second.status_code) == (201, 409)
    assert [c["name"] for c in (await anyio_client.get("/customers")).json()] == ["One"]


async def test_total_with_tax(anyio_client):
    await anyio_client.post("/customers", json={"email": "t@x.io", "name": "T"})
    for total in ("10.10", "20.20"):
        await anyio_client.post("/customers/1/orders", json={"total": total})
    r = await anyio_client.get("/customers/1/total")
    assert r.json()["total"] == "33.33"  # a real bug: the app forgets the tax, on both engines
