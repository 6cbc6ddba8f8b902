"""The public path of the Flask-SQLAlchemy integration (``from dualdb.flask import flask_sqlalchemy_session``).

The code lives in ``dualdb.contrib.flask``; this module only keeps the import path the
README documents.
"""

from dualdb.contrib.flask import flask_sqlalchemy_session

__all__ = ["flask_sqlalchemy_session"]
