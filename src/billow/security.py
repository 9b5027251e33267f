"""Hashing and token helpers: one place for every secret the system keeps or checks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet

from billow.config import get_settings


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_hex(16))


def verify_password(hashed: str, password: str) -> bool:
    """Check *password* against an argon2 *hashed*; with no hash (an unknown user), the
    same work is done against a dummy hash, so the time taken does not tell the two apart."""
    try:
        matched = _hasher().verify(hashed or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and bool(hashed)


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - WHMCS legacy API login form


def hash_admin_password(password: str) -> str:
    """Hash an admin password so the legacy ``md5(password)`` API login can check it too."""
    return hash_password(md5_hex(password))


def verify_admin_password(hashed: str, password: str) -> bool:
    return verify_password(hashed, md5_hex(password))


def verify_admin_md5(hashed: str, md5_of_password: str) -> bool:
    return verify_password(hashed, md5_of_password.strip().lower())


def keyed_digest(secret: str) -> str:
    """HMAC-SHA256 of *secret* under the server key: what is stored for API secrets."""
    key = get_settings().resolved_secret_key()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def digest_matches(stored: str, secret: str) -> bool:
    return hmac.compare_digest(stored, keyed_digest(secret))


def new_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def new_identifier() -> str:
    # Letters and digits only, as WHMCS identifiers: safe in any client's config file.
    return secrets.token_hex(16)


@lru_cache(maxsize=4)
def _fernet(key: bytes) -> Fernet:
    import base64

    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key + b"fernet").digest()))


def encrypt(plaintext: str) -> str:
    """Encrypt a secret that must be read back (server passwords, gateway keys)."""
    return _fernet(get_settings().resolved_secret_key()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    return _fernet(get_settings().resolved_secret_key()).decrypt(token.encode()).decode()
