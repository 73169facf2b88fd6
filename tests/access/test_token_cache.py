"""Verified viewer tokens are remembered (the tracker sends its token with every batch), and the
memory never lets a token through that verification would refuse."""

from __future__ import annotations

import time

from pvideo.access.tokens import ViewerTokens

SECRET = "s" * 40


def test_a_remembered_token_still_expires_on_time(monkeypatch):
    tokens = ViewerTokens(SECRET, max_age=100)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    token = tokens.issue("render-1")
    assert tokens.verify(token) == "render-1"
    assert token in tokens._verified  # the second check is a lookup
    monkeypatch.setattr(tokens._serializer, "loads", lambda *a, **k: (_ for _ in ()).throw(AssertionError("HMAC")))
    assert tokens.verify(token) == "render-1"
    monkeypatch.setattr(time, "time", lambda: now + 100)
    assert tokens.verify(token) == "render-1"  # as itsdangerous: an age of max_age still verifies
    monkeypatch.setattr(time, "time", lambda: now + 101)
    assert tokens.verify(token) is None
    monkeypatch.setattr(time, "time", lambda: now - 1)  # a clock set back: a signature from the future
    assert tokens.verify(token) is None


def test_only_verified_tokens_are_remembered_and_the_memory_is_bounded():
    tokens = ViewerTokens(SECRET, cache_size=3)
    other = ViewerTokens("k" * 40)
    good = [tokens.issue(f"r{n}") for n in range(5)]
    forged = other.issue("r0")
    assert tokens.verify(forged) is None and tokens.verify(forged[:-2] + "AA") is None
    assert tokens._verified == {}
    assert [tokens.verify(t) for t in good] == [f"r{n}" for n in range(5)]
    assert list(tokens._verified) == good[2:]  # the oldest made room
    assert tokens.verify(forged) is None and tokens.verify("") is None and tokens.verify("a" * 500) is None
