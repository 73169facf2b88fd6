"""Viewer tokens: signed render ids, nothing else; anything altered verifies to None."""

from __future__ import annotations

import base64
import json
import string
import uuid

import pytest

from pvideo.access.tokens import ViewerTokens

SECRET = "s" * 40
OTHER = "t" * 40


@pytest.fixture()
def tokens() -> ViewerTokens:
    return ViewerTokens(SECRET)


@pytest.mark.parametrize("render_id", ["r-123", str(uuid.uuid4()), "x" * 150], ids=["short", "uuid", "long"])
def test_round_trip(tokens, render_id):
    token = tokens.issue(render_id)
    assert tokens.verify(token) == render_id
    assert ViewerTokens(SECRET).verify(token) == render_id  # same key, new instance
    assert set(token) <= set(string.ascii_letters + string.digits + "-_.")  # URL-safe


def test_other_secret(tokens):
    token = tokens.issue("r-123")
    assert ViewerTokens(OTHER).verify(token) is None
    assert tokens.verify(ViewerTokens(OTHER).issue("r-123")) is None


def test_truncated(tokens):
    token = tokens.issue("r-123")
    for cut in (1, 5, len(token) // 2, len(token) - 1):
        assert tokens.verify(token[:cut]) is None, cut
    assert tokens.verify(token.split(".")[0]) is None  # payload without signature


def _flip(ch: str) -> str:
    return "B" if ch == "A" else "A"


def test_tampered_payload_and_signature(tokens):
    token = tokens.issue("r-123")
    payload, signature = token.rsplit(".", 1)
    # every character of the payload, and the middle of the signature
    for i in range(len(payload)):
        forged = payload[:i] + _flip(payload[i]) + payload[i + 1 :] + "." + signature
        assert tokens.verify(forged) is None, i
    mid = len(signature) // 2
    assert tokens.verify(payload + "." + signature[:mid] + _flip(signature[mid]) + signature[mid + 1 :]) is None
    assert tokens.verify(token + "x") is None


def test_forged_payload_with_real_signature_of_other_id(tokens):
    a, b = tokens.issue("render-a"), tokens.issue("render-b")
    forged = a.split(".")[0] + "." + b.split(".")[1]
    assert tokens.verify(forged) is None


@pytest.mark.parametrize("token", ["", ".", "..", "a.b", "a.b.c", "not a token", "\x00", "é.é"])
def test_malformed(tokens, token):
    assert tokens.verify(token) is None


def test_overlong(tokens):
    assert tokens.verify("x" * 201) is None
    assert tokens.verify(tokens.issue("r-1") + "A" * 300) is None


def test_signed_non_string_payload_rejected(tokens):
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer(SECRET, salt="pvideo.viewer.v1").dumps({"render": "r-1"})
    assert tokens.verify(forged) is None


def test_token_carries_only_the_render_id(tokens):
    render_id = str(uuid.uuid4())
    token = tokens.issue(render_id)
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert json.loads(decoded) == render_id
    # no customer data is passed in, so none can come out
    for secret_bit in ("Ana", "ana@example.com", "c-1001", SECRET):
        assert secret_bit not in token and secret_bit.encode() not in decoded
