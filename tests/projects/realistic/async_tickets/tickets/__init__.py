"""Tickets: the box-office API of a small venue network (async FastAPI + SQLAlchemy 2 asyncio)."""
