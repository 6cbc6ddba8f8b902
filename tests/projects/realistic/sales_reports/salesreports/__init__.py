"""Sales reports: the back-office reporting module of a wholesale shop (SQLAlchemy Core, no ORM)."""
