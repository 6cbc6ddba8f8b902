"""A tiny shop API, written twice: async SQLAlchemy (``api``) and its sync twin (``sync_api``)."""
