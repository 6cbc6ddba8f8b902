from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from flask import current_app


def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=current_app.config["ARGON2_TIME_COST"],
        memory_cost=current_app.config["ARGON2_MEMORY_COST"],
        parallelism=1,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(stored: str, password: str) -> bool:
    try:
        return _hasher().verify(stored, password)
    except VerifyMismatchError:
        return False
