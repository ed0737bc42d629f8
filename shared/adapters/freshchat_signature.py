"""Freshchat signs each webhook with RSA (RSASSA-PKCS1-v1_5, SHA-256) over the raw body, not with an HMAC.

The public key is the one shown in Freshchat's webhook settings (PEM, or just its base64 body).
"""

from __future__ import annotations

import base64
import binascii
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class SignatureError(Exception):
    pass


@cache
def _public_key(pem: str) -> rsa.RSAPublicKey:
    text = pem.replace("\\n", "\n").strip()
    if "-----BEGIN" not in text:
        body = "".join(text.split())
        text = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + \
            "\n-----END PUBLIC KEY-----"
    try:
        key = serialization.load_pem_public_key(text.encode())
    except ValueError as exc:
        raise SignatureError(f"FRESHCHAT_PUBLIC_KEY is not a PEM public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("FRESHCHAT_PUBLIC_KEY is not an RSA key")
    return key


def verify(public_key_pem: str, body: bytes, signature: str) -> None:
    """Raises SignatureError unless `signature` (base64) signs `body` with the key's private half."""
    key = _public_key(public_key_pem)
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("X-Freshchat-Signature is not base64") from None
    try:
        key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("X-Freshchat-Signature does not match the body") from None
