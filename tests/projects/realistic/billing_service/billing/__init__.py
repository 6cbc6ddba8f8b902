"""Billing: accounts, invoices and payments (a service layer on SQLAlchemy 2, no web framework)."""
