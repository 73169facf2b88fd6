"""Studio passwords: Argon2id hashes (argon2-cffi) and the few rules worth enforcing.

The rules follow NIST SP 800-63B: a minimum length, no upper limit below 128,
no composition rules, and a refusal of passwords everyone tries first."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128
_HASHER = PasswordHasher()
_COMMON = frozenset(
    {
        "123456789012", "1234567890123", "password1234", "passwordpassword", "qwertyuiopas",
        "111111111111", "000000000000", "aaaaaaaaaaaa", "letmeinletmein", "iloveyou1234",
        "welcome12345", "changeme1234", "administrator", "qwerty123456", "password123!",
    }
)  # fmt: skip


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why ``password`` may not be used, or ``None``."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) < 4:
        return "That password is too easy to guess; choose a less common one."
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        return "Do not use your email address in the password."
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def spend_time_like_a_check() -> None:
    """Hash a throwaway so an unknown email costs what a wrong password does (no user enumeration)."""
    _HASHER.hash("unknown-user-padding")
