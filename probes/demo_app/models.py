"""The demo app's models: the probe catalog's application models, re-exported.

A real project would define them here; the demo shares them with the probes so that
one ``dualdb_metadata`` line creates every table the API touches.
"""
from dualdb.probes.models import Author, Base, Order, Post, Product, Tag, User

__all__ = ["Author", "Base", "Order", "Post", "Product", "Tag", "User"]
