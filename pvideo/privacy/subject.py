"""Naming a customer without keeping their id: a keyed digest of it.

An erasure job must find itself again when the same customer is erased twice, yet it may not
hold the id it erased. ``subject_digest`` is an HMAC-SHA256 of the id under the deployment's
secret (``Settings.signing_key``): the same id gives the same digest, and without the secret
no one can test a guessed id against it.
"""

from __future__ import annotations

import hashlib
import hmac


def subject_digest(secret: str, customer_id: str) -> str:
    """The hex HMAC-SHA256 of ``customer_id`` under ``secret`` (64 characters)."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()
