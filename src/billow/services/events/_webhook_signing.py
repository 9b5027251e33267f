"""Webhook secrets and signatures (the Standard Webhooks specification).

``webhook-id`` is the event's uuid (stable across retries and replays, so receivers
de-duplicate on it), ``webhook-timestamp`` the attempt's Unix time, and
``webhook-signature`` ``v1,<base64 HMAC-SHA256>`` of ``id.timestamp.body`` keyed with the
base64 part of the ``whsec_`` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from billow.errors import ValidationError

SECRET_PREFIX = "whsec_"

def generate_secret() -> str:
    """Return a new ``whsec_`` secret: 24 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise ValidationError(
            "Webhook secret must be whsec_ followed by base64", code="invalid_webhook_secret"
        ) from None
    if len(key) < 16:
        raise ValidationError("Webhook secret must hold at least 16 bytes", code="webhook_secret_too_short")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` header value for one request."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
