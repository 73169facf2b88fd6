"""Storage keys: ``/``-separated relative paths (``renders/42/video.mp4``), checked the same way by
every backend, so a key that works locally also works on S3 and no key escapes the storage root."""

from __future__ import annotations


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe relative key, else raise ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    if key.startswith("/"):
        raise ValueError(f"storage key must be relative, got {key!r}")
    if "\\" in key or "\x00" in key:
        raise ValueError(f"storage key must not contain backslashes or NUL: {key!r}")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"storage key has an empty, '.' or '..' part: {key!r}")
    return key
