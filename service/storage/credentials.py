"""API key format: `bh_<key id>_<secret>`.

The key id is public (it names the key in listings, logs and revocation); the secret is 32 random bytes,
URL-safe base64 encoded, shown once at creation. The key id uses lowercase hex so it never contains `_`
and the split after it is unambiguous even though the secret may contain `_`.

Only SHA-256 of the secret is stored. A fast hash is the right tool here: the secret is 256 bits of
randomness, so there is nothing to brute-force, unlike a human password that needs a slow, salted
hash. Verification looks the key up by id and compares digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

KEY_PREFIX = "bh"
KEY_ID_BYTES = 6
SECRET_BYTES = 32

_KEY_ID_PATTERN = re.compile(rf"[0-9a-f]{{{2 * KEY_ID_BYTES}}}")
# token_urlsafe(32) yields 43 characters of the URL-safe base64 alphabet, without padding.
_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def is_key_id(text: str) -> bool:
    return _KEY_ID_PATTERN.fullmatch(text) is not None


def digest_secret(secret: str) -> str:
    """Hex SHA-256 of a key secret, as stored in `api_keys.secret_sha256`."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKeyCredential:
    key_id: str
    # Kept out of repr so that logging a credential never prints the secret.
    secret: str = field(repr=False)

    @classmethod
    def generate(cls) -> ApiKeyCredential:
        return cls(key_id=secrets.token_hex(KEY_ID_BYTES), secret=secrets.token_urlsafe(SECRET_BYTES))

    @classmethod
    def parse(cls, plaintext: str) -> ApiKeyCredential | None:
        """The credential in `bh_<key id>_<secret>`, or None when the text is not in that format."""
        prefix, _, rest = plaintext.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != KEY_PREFIX or not is_key_id(key_id) or _SECRET_PATTERN.fullmatch(secret) is None:
            return None
        return cls(key_id=key_id, secret=secret)

    @property
    def plaintext(self) -> str:
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"

    def secret_digest(self) -> str:
        return digest_secret(self.secret)

    def matches(self, stored_digest: str) -> bool:
        return hmac.compare_digest(self.secret_digest(), stored_digest)
