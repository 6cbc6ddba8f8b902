"""Storefront: the shop's JSON API (FastAPI + SQLAlchemy 2)."""
