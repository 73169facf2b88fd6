"""Scoped API keys: stored hashed, enforced per endpoint, revocable; env keys keep every scope."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pvideo.access.apikeys import SCOPES, create_key, key_hash, key_scopes, list_keys, revoke_key
from pvideo.cli import app
from pvideo.db.models import ApiKey
from pvideo.errors import DataError, NotFound
from tests.conftest import API_KEY

MISSING = "0" * 32  # a campaign id that does not exist: auth is decided before the lookup (401/403 vs 404)

# (method, path, scopes that open it)
ENDPOINTS = [
    ("post", "/api/campaigns", {"campaigns"}),
    ("get", f"/api/campaigns/{MISSING}", {"campaigns"}),
    ("post", f"/api/campaigns/{MISSING}/cancel", {"campaigns"}),
    ("post", f"/api/campaigns/{MISSING}/retry", {"campaigns"}),
    ("get", f"/api/campaigns/{MISSING}/renders", {"campaigns"}),
    ("get", f"/api/campaigns/{MISSING}/manifest", {"campaigns"}),
    ("get", f"/api/campaigns/{MISSING}/analytics", {"analytics"}),
    ("get", f"/api/events?campaign_id={MISSING}", {"analytics"}),
    ("get", f"/api/events/failed?campaign_id={MISSING}", {"analytics"}),
    ("post", f"/api/renders/{MISSING}/revoke-link", {"campaigns", "admin"}),
]


def _key(client, *scopes: str) -> str:
    with client.app.state.pvideo.runtime.db.session() as session:
        return create_key(session, scopes, name="test")[1]


def _call(client, method: str, path: str, key: str | None):
    headers = {"X-API-Key": key} if key is not None else {}
    if method == "post" and path == "/api/campaigns":
        return client.post(path, json={"scene": "no-such-scene", "rows": []}, headers=headers)
    return getattr(client, method)(path, headers=headers)


def test_keys_are_stored_only_as_digests(db):
    with db.session() as session:
        row, key = create_key(session, ["analytics", "campaigns"], name="crm")
        assert re.fullmatch(r"pvk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
        assert row.key_hash == key_hash(key) and row.prefix in key and row.scopes == ["analytics", "campaigns"]
    with db.session() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert key not in repr((stored.id, stored.name, stored.prefix, stored.key_hash, stored.scopes))
        assert key_scopes(session, key, []) == {"analytics", "campaigns"}
        assert key_scopes(session, key + "x", []) is None
        assert key_scopes(session, "env-key", ["env-key"]) == set(SCOPES)
        revoke_key(session, stored.id)
        assert key_scopes(session, key, []) is None
        with pytest.raises(NotFound):
            revoke_key(session, "nope")
        with pytest.raises(DataError):
            create_key(session, ["root"])
        with pytest.raises(DataError):
            create_key(session, [])


@pytest.mark.parametrize("method,path,allowed", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_every_protected_endpoint_checks_its_scope(client, method, path, allowed):
    assert _call(client, method, path, None).status_code == 401
    assert _call(client, method, path, "pvk_00000000_forged").status_code == 401
    for scope in SCOPES:
        status = _call(client, method, path, _key(client, scope)).status_code
        if scope in allowed:
            assert status in (404, 422), (scope, status)  # past auth: the (missing) campaign or scene
        else:
            assert status == 403, (scope, status)
    assert _call(client, method, path, API_KEY).status_code in (404, 422)  # PVIDEO_API_KEYS: every scope


def test_revoked_key_stops_at_once(client):
    key = _key(client, "analytics")
    path = f"/api/campaigns/{MISSING}/analytics"
    assert client.get(path, headers={"X-API-Key": key}).status_code == 404
    with client.app.state.pvideo.runtime.db.session() as session:
        revoke_key(session, list_keys(session)[0].id)
    assert client.get(path, headers={"X-API-Key": key}).status_code == 401


def test_viewer_endpoints_need_no_key(client):
    assert client.get("/v/not-a-token").status_code == 404
    assert client.post("/api/events", json={"token": "x", "events": []}).status_code in (404, 422)


def test_cli_create_list_revoke(tmp_path):
    runner = CliRunner()
    env = {"PVIDEO_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "2000", "NO_COLOR": "1"}
    created = runner.invoke(
        app, ["apikey", "create", "--scope", "campaigns", "--scope", "analytics", "--name", "crm sync"], env=env
    )
    assert created.exit_code == 0, created.output
    key = re.search(r"pvk_\S+", created.stdout).group(0)
    key_id = re.search(r"API key ([0-9a-f]{32})", created.stdout).group(1)
    listed = runner.invoke(app, ["apikey", "list"], env=env)
    assert listed.exit_code == 0 and key_id in listed.stdout and "crm sync" in listed.stdout
    assert "analytics,campaigns" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout  # never shown again
    assert runner.invoke(app, ["apikey", "create", "--scope", "root"], env=env).exit_code != 0
    assert runner.invoke(app, ["apikey", "revoke", key_id], env=env).exit_code == 0
    assert "revoked" in runner.invoke(app, ["apikey", "list"], env=env).stdout
    assert runner.invoke(app, ["apikey", "revoke", "nope"], env=env).exit_code == 1


def test_wrong_keys_from_one_address_are_throttled(client):
    """After ``auth_failure_burst`` wrong keys, more wrong keys from the address get 429 + Retry-After
    (a right key still passes: tests/api/test_access_holes.py)."""
    burst = client.app.state.pvideo.runtime.settings.auth_failure_burst
    path = f"/api/campaigns/{MISSING}"
    for _ in range(burst):
        assert _call(client, "get", path, "pvk_00000000_wrong").status_code == 401
    refused = _call(client, "get", path, "pvk_00000000_wrong")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # requests without a key are not counted, and other addresses are not affected
    assert _call(client, "get", path, None).status_code == 401
    assert client.app.state.pvideo.auth_failures.wait("198.51.100.7") == 0


def test_rate_limiter_wait_spends_nothing():
    from pvideo.access.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(1.0, 2, clock=lambda: now[0])
    assert limiter.wait("a") == 0
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert limiter.wait("a") == pytest.approx(1.0) and limiter.wait("a") == pytest.approx(1.0)
    now[0] = 1.0
    assert limiter.wait("a") == 0
