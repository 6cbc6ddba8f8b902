import re

import pytest

from storefront.security import hash_password, new_api_token, verify_password


@pytest.mark.expect("same")
def test_api_tokens_are_url_safe_and_unique():
    tokens = {new_api_token() for _ in range(50)}

    assert len(tokens) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in tokens)


@pytest.mark.expect("same")
def test_password_hash_round_trip():
    hashed = hash_password("hunter22")

    assert verify_password("hunter22", hashed)
    assert not verify_password("hunter23", hashed)
    assert hash_password("hunter22") != hashed  # salted
