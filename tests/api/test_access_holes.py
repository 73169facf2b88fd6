"""Access: personal links only for keys that may open them; a revoked link's media stops within
5 minutes; wrong keys never lock out a right one; studio cookies are Secure behind https."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from pvideo.access.apikeys import create_key
from pvideo.access.revocation import revoke_viewer_token
from pvideo.db.models import Render
from pvideo.render import hls
from pvideo.settings import Settings
from tests.api.served import app_client, served
from tests.conftest import API_KEY
from tests.studio.conftest import PASSWORD, make_user
from tests.viewers import done_campaign

MISSING = "0" * 32
WRONG = "pvk_00000000_wrong"


def _key(client, *scopes: str) -> str:
    with client.app.state.pvideo.runtime.db.session() as session:
        return create_key(session, scopes)[1]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_personal_links_are_listed_only_to_keys_that_may_open_them(client, runtime):
    """An analytics-only key once listed every viewer's link (on the old dashboard) yet got 403 on /renders.
    In the studio, every signed-in role may read links (tests/studio/test_campaign_pages.py)."""
    campaign_id, viewers = done_campaign(runtime.db, client.app.state.pvideo.tokens)
    path = f"/api/campaigns/{campaign_id}/renders"
    assert client.get(path, headers={"X-API-Key": _key(client, "analytics")}).status_code == 403
    listed = client.get(path, headers={"X-API-Key": _key(client, "campaigns")})
    assert listed.status_code == 200 and all(f"/v/{v.token}" in listed.text for v in viewers)


@pytest.fixture()
def s3_client(settings, s3_bucket):
    endpoint, bucket = s3_bucket
    with app_client(settings, storage_url=f"s3://{bucket}/pv", s3_endpoint_url=endpoint) as client:
        yield client


def _expires(location: str) -> int:
    return int(parse_qs(urlsplit(location).query)["X-Amz-Expires"][0])


def test_a_revoked_links_media_stops_within_5_minutes(s3_client):
    """A presigned URL of a revoked link kept working for its 3,600 s."""
    state = s3_client.app.state.pvideo
    runtime = state.runtime
    _, (ana, _bo) = done_campaign(runtime.db, state.tokens)
    with runtime.db.session() as session:
        render = session.get(Render, ana.render_id)
        video_key, poster_key = render.video_key, render.poster_key
    runtime.storage.put_bytes(video_key, b"\x00\x00\x00\x18ftypmp42 the video", "video/mp4")
    runtime.storage.put_bytes(poster_key, b"\xff\xd8 the poster", "image/jpeg")
    for media, body in (("video.mp4", b"the video"), ("poster.jpg", b"the poster")):
        redirect = s3_client.get(f"/v/{ana.token}/{media}", follow_redirects=False)
        assert redirect.status_code == 307
        location = redirect.headers["location"]
        assert _expires(location) == 300  # the default, and the most allowed
        assert redirect.headers.get("cache-control") == "no-store"  # nor kept by the browser
        assert httpx.get(location, timeout=10).content.endswith(body)  # a working URL
    with runtime.db.session() as session:
        revoke_viewer_token(session, state.tokens, ana.render_id)
    for media in ("video.mp4", "poster.jpg", "thumbnail.jpg"):
        assert s3_client.get(f"/v/{ana.token}/{media}", follow_redirects=False).status_code == 410  # gone


def test_hls_segments_are_presigned_per_request_after_the_token_is_checked(s3_client):
    state = s3_client.app.state.pvideo
    runtime = state.runtime
    _, (ana, _bo) = done_campaign(runtime.db, state.tokens)
    digest = "d" * 64
    keys = ["templates/t1/seg_00000.ts", f"outputs/{digest}/part_00001.ts"]
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1"]
    for key in keys:
        runtime.storage.put_bytes(key, key.encode(), "video/mp2t")
        lines += ["#EXTINF:1.0,", key]
    runtime.storage.put_bytes(hls.playlist_key(digest), ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode())
    with runtime.db.session() as session:
        session.get(Render, ana.render_id).plan_digest = digest
    playlist = s3_client.get(f"/v/{ana.token}/index.m3u8")
    assert playlist.status_code == 200
    uris = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    assert uris == [f"/v/{ana.token}/hls/seg_00000.ts", f"/v/{ana.token}/hls/part_00001.ts"]  # no presigned URL
    for uri, key in zip(uris, keys):
        redirect = s3_client.get(uri, follow_redirects=False)
        assert redirect.status_code == 307 and _expires(redirect.headers["location"]) == 300
        assert httpx.get(redirect.headers["location"], timeout=10).content == key.encode()
    with runtime.db.session() as session:
        revoke_viewer_token(session, state.tokens, ana.render_id)
    assert s3_client.get(uris[0], follow_redirects=False).status_code == 410  # gone
    assert s3_client.get(f"/v/{ana.token}/index.m3u8").status_code == 410


def test_presigned_url_lifetime_is_configurable_up_to_5_minutes(settings, s3_bucket):
    assert Settings(presigned_url_seconds=60).presigned_url_seconds == 60
    with pytest.raises(ValidationError, match="presigned_url_seconds"):
        Settings(presigned_url_seconds=3600)
    endpoint, bucket = s3_bucket
    with app_client(settings, storage_url=f"s3://{bucket}/pv", s3_endpoint_url=endpoint, presigned_url_seconds=60) as c:
        state = c.app.state.pvideo
        _, (ana, _bo) = done_campaign(state.runtime.db, state.tokens)
        redirect = c.get(f"/v/{ana.token}/video.mp4", follow_redirects=False)
        assert redirect.status_code == 307 and _expires(redirect.headers["location"]) == 60


def test_a_right_key_passes_however_many_wrong_keys_came_from_its_address(client):
    """After 20 wrong keys every valid key from the same address got 429 too (behind a proxy: everyone)."""
    burst = client.app.state.pvideo.runtime.settings.auth_failure_burst
    stored = _key(client, "campaigns", "analytics")
    path = f"/api/campaigns/{MISSING}"
    for _ in range(burst + 5):
        client.get(path, headers={"X-API-Key": WRONG})
    assert client.get(path, headers={"X-API-Key": WRONG}).status_code == 429
    for key in (stored, API_KEY):
        assert client.get(path, headers={"X-API-Key": key}).status_code == 404  # past auth: no such campaign
    assert client.get(path, headers={"X-API-Key": WRONG}).status_code == 429  # still throttled


def test_cookie_secure_forces_secure_cookies(settings):
    with app_client(settings, cookie_secure=True) as client:
        make_user(client.app.state.pvideo.runtime, "mia@example.com", "marketing")
        form = client.get("/studio/sign-in")
        assert "secure" in form.headers["set-cookie"].lower()
        signed = client.post(
            "/studio/sign-in",
            data={"email": "mia@example.com", "password": PASSWORD, "csrf": _csrf(form.text)},
            headers={"Cookie": f"pvideo_studio_csrf={_csrf(form.text)}"},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        session = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("pvideo_studio="))
        assert "secure" in session.lower().split("; ")


def _served_sign_in_form(url: str, headers: dict[str, str]) -> httpx.Response:
    """The studio's sign-in form over plain http, as a browser behind an https proxy would get it."""
    return httpx.get(f"{url}/studio/sign-in", headers=headers, timeout=10)


def _secure(response: httpx.Response, name: str) -> bool:
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}="))
    return "secure" in cookie.lower().split("; ")


def test_behind_a_trusted_proxy_cookies_are_secure_and_clients_are_throttled_apart(tmp_path, assets_dir, scenes_dir):
    with served(tmp_path, assets_dir, scenes_dir, trusted_proxies="127.0.0.1", auth_failure_burst=3) as server:
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"}
        signed = _served_sign_in_form(server.url, https)
        assert signed.status_code == 200 and _secure(signed, "pvideo_studio_csrf")
        plain = _served_sign_in_form(server.url, {})
        assert plain.status_code == 200 and not _secure(plain, "pvideo_studio_csrf")
        path = f"{server.url}/api/campaigns/{MISSING}"

        def call(client_address: str, key: str) -> int:
            headers = {"X-API-Key": key, "X-Forwarded-For": client_address}
            return httpx.get(path, headers=headers, timeout=10).status_code

        assert [call("203.0.113.5", WRONG) for _ in range(4)] == [401, 401, 401, 429]
        assert call("203.0.113.6", WRONG) == 401  # another client behind the same proxy
        assert call("203.0.113.5", API_KEY) == 404  # and a right key always passes


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path, assets_dir, scenes_dir):
    with served(tmp_path, assets_dir, scenes_dir, auth_failure_burst=3) as server:
        signed = _served_sign_in_form(server.url, {"X-Forwarded-Proto": "https"})
        assert signed.status_code == 200 and not _secure(signed, "pvideo_studio_csrf")
        path = f"{server.url}/api/campaigns/{MISSING}"
        statuses = [
            httpx.get(path, headers={"X-API-Key": WRONG, "X-Forwarded-For": f"203.0.113.{n}"}, timeout=10).status_code
            for n in range(4)
        ]
        assert statuses == [401, 401, 401, 429]  # a forged client address does not reset the count
