"""Sign Freshchat webhook bodies exactly as Freshchat does, with a TEST-ONLY RSA key pair.

Why: Freshchat signs each webhook with RSASSA-PKCS1-v1_5 over SHA-256 of the raw body and sends the base64
signature in ``X-Freshchat-Signature``; receivers verify it with the public key shown in Freshchat's admin.
Tests configure the receiver with ``TEST_PUBLIC_KEY_PEM`` and send bodies signed by ``sign_freshchat``.
The key pair in tests/fixtures/partners/ was generated for tests and protects nothing.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "FIXTURES",
    "SIGNATURE_HEADER",
    "TEST_PRIVATE_KEY_PATH",
    "TEST_PUBLIC_KEY_PATH",
    "TEST_PUBLIC_KEY_PEM",
    "freshchat_headers",
    "sign_freshchat",
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "partners"
TEST_PRIVATE_KEY_PATH = FIXTURES / "freshchat_test_private.pem"
TEST_PUBLIC_KEY_PATH = FIXTURES / "freshchat_test_public.pem"
TEST_PUBLIC_KEY_PEM = TEST_PUBLIC_KEY_PATH.read_text()
SIGNATURE_HEADER = "X-Freshchat-Signature"


@cache
def _private_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(TEST_PRIVATE_KEY_PATH.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def sign_freshchat(body: bytes) -> str:
    """Base64 RSASSA-PKCS1-v1_5 SHA-256 signature of the raw body, as X-Freshchat-Signature carries it."""
    signature = _private_key().sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def freshchat_headers(body: bytes, *, retry_count: int = 0) -> dict[str, str]:
    """The headers Freshchat sends with a webhook: content type, signature, retry count, payload version."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_freshchat(body),
        "X-Retry-Count": str(retry_count),
        "X-Freshchat-Payload-Version": "1",
    }
