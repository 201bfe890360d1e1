import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.storage.credentials import ApiKeyCredential, digest_secret, is_key_id


def test_generated_key_has_the_documented_shape_and_entropy() -> None:
    credential = ApiKeyCredential.generate()
    prefix, key_id, secret = credential.plaintext.split("_", 2)
    assert prefix == "bh"
    assert key_id == credential.key_id
    assert len(key_id) == 12
    assert is_key_id(key_id)
    assert secret == credential.secret
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32


def test_generated_keys_differ() -> None:
    keys = {ApiKeyCredential.generate().plaintext for _ in range(200)}
    assert len(keys) == 200


def test_generated_keys_parse_back() -> None:
    for _ in range(200):
        credential = ApiKeyCredential.generate()
        assert ApiKeyCredential.parse(credential.plaintext) == credential


def test_secret_with_underscores_and_dashes_splits_after_the_key_id() -> None:
    plaintext = "bh_0123456789ab_" + "_-" * 21 + "x"
    credential = ApiKeyCredential.parse(plaintext)
    assert credential is not None
    assert credential.key_id == "0123456789ab"
    assert credential.secret == "_-" * 21 + "x"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bh_",
        "bh__",
        "Bearer bh_0123456789ab_" + "a" * 43,
        "bk_0123456789ab_" + "a" * 43,
        "BH_0123456789ab_" + "a" * 43,
        "bh_0123456789AB_" + "a" * 43,  # key ids are lowercase hex
        "bh_0123456789a_" + "a" * 43,  # key id too short
        "bh_0123456789ab_" + "a" * 42,  # secret too short
        "bh_0123456789ab_" + "a" * 44,  # secret too long
        "bh_0123456789ab_" + "a" * 42 + "=",  # padding is not part of the alphabet
        "bh_0123456789ab_" + "a" * 42 + "\n",
        " bh_0123456789ab_" + "a" * 43,
    ],
)
def test_malformed_keys_do_not_parse(text: str) -> None:
    assert ApiKeyCredential.parse(text) is None


@settings(max_examples=200)
@given(st.text())
def test_parse_accepts_only_the_canonical_form(text: str) -> None:
    credential = ApiKeyCredential.parse(text)
    assert credential is None or credential.plaintext == text


def test_digest_is_hex_sha256_of_the_secret() -> None:
    # FIPS 180-2 test vector for "abc".
    assert digest_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    credential = ApiKeyCredential.generate()
    assert credential.secret_digest() == hashlib.sha256(credential.secret.encode()).hexdigest()


def test_matches_only_the_digest_of_its_own_secret() -> None:
    credential = ApiKeyCredential.generate()
    other = ApiKeyCredential.generate()
    assert credential.matches(credential.secret_digest())
    assert not credential.matches(other.secret_digest())
    assert not credential.matches("")


def test_repr_never_shows_the_secret() -> None:
    credential = ApiKeyCredential.generate()
    assert credential.secret not in repr(credential)
    assert credential.key_id in repr(credential)
