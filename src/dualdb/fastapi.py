"""The public path of the FastAPI integration (``from dualdb.fastapi import override_get_db``).

The code lives in ``dualdb.contrib.fastapi``; this module only keeps the import path
the README documents.
"""

from dualdb.contrib.fastapi import ObservingClient, async_client, override_get_db

__all__ = ["ObservingClient", "async_client", "override_get_db"]
