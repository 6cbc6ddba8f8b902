import os
from dataclasses import dataclass


@dataclass
class Settings:
    database_url: str = os.environ.get("STOREFRONT_DATABASE_URL", "sqlite:///./storefront.db")
    bcrypt_rounds: int = int(os.environ.get("STOREFRONT_BCRYPT_ROUNDS", "12"))
    default_page_size: int = 20
    max_page_size: int = 100


settings = Settings()
