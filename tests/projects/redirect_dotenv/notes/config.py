"""Settings from a .env file that wins over the environment (python-dotenv's override=True, by hand)."""

import os
from pathlib import Path


def load_dotenv(path: Path, override: bool = True) -> None:
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if override or key.strip() not in os.environ:
            os.environ[key.strip()] = value.strip().strip('"')


load_dotenv(Path(__file__).resolve().parent.parent / ".env", override=True)
DATABASE_URL = os.environ["NOTES_DATABASE_URL"]
