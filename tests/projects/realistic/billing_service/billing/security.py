import os
import secrets

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

BCRYPT_ROUNDS = int(os.environ.get("BILLING_BCRYPT_ROUNDS", "12"))
_api_keys = PasswordHasher(
    time_cost=int(os.environ.get("BILLING_ARGON2_TIME_COST", "2")),
    memory_cost=int(os.environ.get("BILLING_ARGON2_MEMORY_KIB", "19456")),
    parallelism=1,
)
API_KEY_PREFIX = "bk_live_"


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def check_password(password: str, stored: str) -> bool:
    return bcrypt.checkpw(password.encode(), stored.encode())


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(24)


def key_prefix(api_key: str) -> str:
    return api_key[: len(API_KEY_PREFIX) + 4]


def hash_api_key(api_key: str) -> bytes:
    return _api_keys.hash(api_key).encode()


def check_api_key(api_key: str, stored: bytes) -> bool:
    try:
        return _api_keys.verify(stored.decode(), api_key)
    except VerifyMismatchError:
        return False
