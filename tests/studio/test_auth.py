"""Studio sign-in through the real pages: invites, passwords, sessions, lockout, CSRF, roles, admin actions."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.routes.studio.auth import safe_next
from pvideo.access.ratelimit import RateLimiter
from pvideo.access.users import find_user, invite_user
from pvideo.db.models import ApiKey, User
from tests.studio.conftest import PASSWORD, csrf_of, make_user, sign_in_as

FORM_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
INVITE_LINK = re.compile(r'id="invite-link" type="text" readonly value="([^"]+)"')
NEW_KEY = re.compile(r'id="new-key" type="text" readonly value="([^"]+)"')
NEW_PASSWORD = "plum orchard seventy kites"


@pytest.fixture(autouse=True)
def answers_not_followed(client):
    """Redirects are part of what is tested: see them."""
    client.follow_redirects = False


def form_csrf(html: str) -> str:
    return FORM_CSRF.search(html).group(1)


def other_client(client) -> TestClient:
    """A second browser on the same app (its own cookie jar)."""
    return TestClient(client.app, follow_redirects=False)


def sign_in(client, email: str, password: str, next: str | None = None, **headers):
    """Fill in and send the sign-in form as a browser does (signed out first)."""
    client.cookies.delete("pvideo_studio")
    page = client.get("/studio/sign-in", params={"next": next} if next else None)
    assert page.status_code == 200
    form = {"email": email, "password": password, "csrf": form_csrf(page.text), "next": next or ""}
    return client.post("/studio/sign-in", data=form, headers=headers, follow_redirects=False)


def studio_cookie_header(response) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith("pvideo_studio="))


def user_row(runtime, email: str) -> User:
    with runtime.db.session() as session:
        user = find_user(session, email)
        session.expunge(user)
        return user


def invite_through_the_page(admin, email: str, role: str) -> str:
    page = admin.get("/studio/users")
    response = admin.post("/studio/users", data={"email": email, "role": role, "csrf": csrf_of(page.text)})
    assert response.status_code == 200, response.text
    return unescape(INVITE_LINK.search(response.text).group(1))


def test_invite_set_password_sign_in_and_out(admin, runtime):
    link = invite_through_the_page(admin, "Neo@Example.com", "marketing")
    assert link.startswith("http://testserver/studio/invite/")
    assert user_row(runtime, "neo@example.com").created_by == "ada@example.com"
    path = urlsplit(link).path
    newcomer = other_client(admin)

    page = newcomer.get(path)
    assert page.status_code == 200 and "neo@example.com" in page.text
    assert 'autocomplete="new-password"' in page.text
    weak = newcomer.post(path, data={"password": "short", "password_again": "short", "csrf": form_csrf(page.text)})
    assert weak.status_code == 400
    assert 'role="alert">Use at least 12 characters.' in weak.text
    assert 'aria-describedby="password-error"' in weak.text
    differ = newcomer.post(
        path, data={"password": PASSWORD, "password_again": PASSWORD + "x", "csrf": form_csrf(weak.text)}
    )
    assert differ.status_code == 400 and "The two passwords differ." in differ.text
    assert user_row(runtime, "neo@example.com").password_hash is None

    done = newcomer.post(path, data={"password": PASSWORD, "password_again": PASSWORD, "csrf": form_csrf(differ.text)})
    assert done.status_code == 303 and done.headers["location"] == "/studio/campaigns"
    cookie = studio_cookie_header(done).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/studio" in cookie
    account = newcomer.get("/studio/account")
    assert account.status_code == 200 and "neo@example.com" in account.text and "marketing" in account.text

    again = other_client(admin).get(path)  # the link worked once
    assert again.status_code == 410 and "ask an admin for a new link" in again.text.lower()

    out = newcomer.post("/studio/sign-out", data={"csrf": csrf_of(account.text)})
    assert out.status_code == 303 and out.headers["location"].startswith("/studio/sign-in")
    assert newcomer.get("/studio/account").status_code == 303

    back = sign_in(newcomer, "NEO@example.com ", PASSWORD, next="/studio/account")
    assert back.status_code == 303 and back.headers["location"] == "/studio/account"
    assert newcomer.get("/studio/account").status_code == 200
    assert user_row(runtime, "neo@example.com").last_sign_in_at is not None


def test_wrong_password_or_unknown_email_is_401_with_the_same_message(client, runtime):
    make_user(runtime, "mia@example.com", "marketing")
    wrong = sign_in(client, "mia@example.com", "not the password at all")
    unknown = sign_in(client, "nobody@example.com", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert (
            'role="alert" id="sign-in-error">That email and password do not match an active account.' in response.text
        )
        assert "pvideo_studio=" not in response.headers.get("set-cookie", "")


def test_next_is_kept_only_for_studio_paths(client, runtime):
    make_user(runtime, "mia@example.com", "marketing")
    page = client.get("/studio/sign-in", params={"next": "/studio/users?x=1"})
    assert 'name="next" value="/studio/users?x=1"' in page.text
    assert sign_in(client, "mia@example.com", PASSWORD, next="https://evil.example/").headers["location"] == (
        "/studio/campaigns"
    )
    for evil in ("//evil.example/studio", "/studio/../dashboard", "/studio/%2e%2e/x", "/studiox", "/studio\\x", "/x"):
        assert safe_next(evil) == "/studio/campaigns", evil
    for good in ("/studio", "/studio/campaigns/abc?status=done", "/studio?x=%20"):
        assert safe_next(good) == good


def test_signed_out_pages_redirect_to_sign_in_with_next(client):
    response = client.get("/studio/users?page=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/studio/sign-in?next=%2Fstudio%2Fusers%3Fpage%3D2"
    assert client.get("/studio", follow_redirects=False).headers["location"] == "/studio/campaigns"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lockout_after_repeated_failures_shares_the_wrong_key_throttle(client, runtime):
    clock = Clock()
    client.app.state.pvideo.auth_failures = RateLimiter(6 / 60, 3, clock=clock)
    make_user(runtime, "mia@example.com", "marketing")
    make_user(runtime, "max@example.com", "marketing")

    assert [sign_in(client, "mia@example.com", f"wrong guess {i}").status_code for i in range(3)] == [401] * 3
    locked = sign_in(client, "mia@example.com", PASSWORD)  # the account is locked: not even the right password
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in locked.text and "pvideo_studio=" not in locked.headers.get("set-cookie", "")
    # the address is used up too, but a right password for another account still passes
    assert sign_in(client, "max@example.com", PASSWORD).status_code == 303
    assert sign_in(client, "max@example.com", "wrong guess").status_code == 429

    clock.now += 11  # one token back: the right password passes again
    assert sign_in(client, "mia@example.com", PASSWORD).status_code == 303

    clock.now += 3600  # wrong API keys from the address take from the same bucket
    for _ in range(3):
        assert client.get("/api/campaigns/x", headers={"X-API-Key": "wrong"}).status_code == 401
    assert sign_in(client, "max@example.com", "wrong guess").status_code == 429


def test_disabled_users_session_stops_working_at_once(admin, runtime):
    marketer = other_client(admin)
    mia = sign_in_as(marketer, runtime, "mia@example.com", "marketing")
    assert marketer.get("/studio/account").status_code == 200
    users = admin.get("/studio/users")
    assert admin.post(f"/studio/users/{mia}/disable", data={"csrf": csrf_of(users.text)}).status_code == 303
    assert user_row(runtime, "mia@example.com").disabled_at is not None
    assert marketer.get("/studio/account").status_code == 303
    assert sign_in(marketer, "mia@example.com", PASSWORD).status_code == 401
    listed = admin.get("/studio/users?done=disabled")
    assert "User disabled" in listed.text and "disabled</span>" in listed.text

    assert admin.post(f"/studio/users/{mia}/enable", data={"csrf": csrf_of(listed.text)}).status_code == 303
    assert sign_in(marketer, "mia@example.com", PASSWORD).status_code == 303


def test_admin_changes_roles_and_ends_sessions(admin, runtime):
    marketer = other_client(admin)
    mia = sign_in_as(marketer, runtime, "mia@example.com", "marketing")
    csrf = csrf_of(admin.get("/studio/users").text)
    assert admin.post(f"/studio/users/{mia}/role", data={"role": "analyst", "csrf": csrf}).status_code == 303
    assert user_row(runtime, "mia@example.com").role == "analyst"
    bad = admin.post(f"/studio/users/{mia}/role", data={"role": "owner", "csrf": csrf})
    assert bad.status_code == 400 and user_row(runtime, "mia@example.com").role == "analyst"

    assert admin.post(f"/studio/users/{mia}/sign-out", data={"csrf": csrf}).status_code == 303
    assert marketer.get("/studio/account").status_code == 303


def test_admin_cannot_disable_or_demote_themself(admin, runtime):
    ada = user_row(runtime, "ada@example.com")
    csrf = csrf_of(admin.get("/studio/users").text)
    refused = admin.post(f"/studio/users/{ada.id}/disable", data={"csrf": csrf})
    assert refused.status_code == 409 and "You cannot disable yourself" in refused.text
    demoted = admin.post(f"/studio/users/{ada.id}/role", data={"role": "analyst", "csrf": csrf})
    assert demoted.status_code == 409
    reinvited = admin.post("/studio/users", data={"email": "ada@example.com", "role": "analyst", "csrf": csrf})
    assert reinvited.status_code == 400 and "That is you" in reinvited.text
    after = user_row(runtime, "ada@example.com")
    assert (after.role, after.disabled_at, after.session_generation) == ("admin", None, ada.session_generation)
    assert admin.get("/studio/users").status_code == 200


def test_invite_form_errors_are_tied_to_their_fields(admin):
    csrf = csrf_of(admin.get("/studio/users").text)
    response = admin.post("/studio/users", data={"email": "not-an-email", "role": "boss", "csrf": csrf})
    assert response.status_code == 400
    assert 'aria-describedby="invite-email-error"' in response.text
    assert 'id="invite-email-error" role="alert">That is not an email address.' in response.text
    assert 'id="invite-role-error" role="alert">Pick one of the roles.' in response.text


def test_sign_out_everywhere_ends_an_existing_cookie(marketer, runtime):
    laptop = other_client(marketer)
    laptop.cookies.set("pvideo_studio", marketer.cookies.get("pvideo_studio"), path="/studio")
    assert laptop.get("/studio/account").status_code == 200
    account = marketer.get("/studio/account")
    response = marketer.post("/studio/account/sign-out-everywhere", data={"csrf": csrf_of(account.text)})
    assert response.status_code == 303 and response.headers["location"] == "/studio/sign-in?notice=everywhere"
    assert laptop.get("/studio/account").status_code == 303
    assert marketer.get("/studio/account").status_code == 303
    assert "signed out on every device" in marketer.get("/studio/sign-in?notice=everywhere").text


def test_change_password(marketer, runtime):
    laptop = other_client(marketer)
    laptop.cookies.set("pvideo_studio", marketer.cookies.get("pvideo_studio"), path="/studio")
    csrf = csrf_of(marketer.get("/studio/account").text)
    form = {"current_password": "not it at all", "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    wrong = marketer.post("/studio/account/password", data={**form, "csrf": csrf})
    assert (
        wrong.status_code == 400 and 'id="current-error" role="alert">That is not your current password.' in wrong.text
    )
    weak = {**form, "current_password": PASSWORD, "new_password": "aaaaaaaaaaaa", "new_password_again": "aaaaaaaaaaaa"}
    assert marketer.post("/studio/account/password", data={**weak, "csrf": csrf}).status_code == 400

    done = marketer.post("/studio/account/password", data={**form, "current_password": PASSWORD, "csrf": csrf})
    assert done.status_code == 303
    assert marketer.get("/studio/account").status_code == 200  # this session goes on
    assert laptop.get("/studio/account").status_code == 303  # the others end
    assert sign_in(laptop, "mia@example.com", PASSWORD).status_code == 401
    assert sign_in(laptop, "mia@example.com", NEW_PASSWORD).status_code == 303


def test_csrf_missing_forged_or_cross_origin_is_403(marketer, runtime):
    before = user_row(runtime, "mia@example.com").session_generation
    csrf = csrf_of(marketer.get("/studio/account").text)
    url = "/studio/account/sign-out-everywhere"
    assert marketer.post(url, data={}).status_code == 403
    assert marketer.post(url, data={"csrf": "0" * 64}).status_code == 403
    assert marketer.post(url, data={"csrf": csrf}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert user_row(runtime, "mia@example.com").session_generation == before
    assert marketer.post(url, data={"csrf": csrf}, headers={"Origin": "http://testserver"}).status_code == 303


def test_pre_session_forms_need_their_csrf(client, runtime):
    make_user(runtime, "mia@example.com", "marketing")
    assert sign_in(client, "mia@example.com", PASSWORD, Origin="https://evil.example").status_code == 403
    page = client.get("/studio/sign-in")
    forged = {"email": "mia@example.com", "password": PASSWORD, "csrf": "forged"}
    assert client.post("/studio/sign-in", data=forged, follow_redirects=False).status_code == 403
    client.cookies.clear()  # a token without its cookie
    good_token = {**forged, "csrf": form_csrf(page.text)}
    assert client.post("/studio/sign-in", data=good_token, follow_redirects=False).status_code == 403

    with runtime.db.session() as session:
        _, token = invite_user(session, "neo@example.com", "analyst")
    invite = client.get(f"/studio/invite/{token}")
    form = {"password": PASSWORD, "password_again": PASSWORD, "csrf": form_csrf(invite.text)}
    assert (
        client.post(f"/studio/invite/{token}", data=form, headers={"Origin": "https://evil.example"}).status_code == 403
    )
    assert user_row(runtime, "neo@example.com").password_hash is None


@pytest.mark.parametrize("path", ["/studio/users", "/studio/keys"])
def test_analyst_gets_the_403_page(analyst, runtime, path):
    response = analyst.get(path)
    assert response.status_code == 403 and "Not allowed" in response.text
    assert "ann@example.com" in response.text and "Invite someone" not in response.text
    csrf = csrf_of(response.text)
    posted = analyst.post("/studio/users", data={"email": "eve@example.com", "role": "admin", "csrf": csrf})
    assert posted.status_code == 403
    with runtime.db.session() as session:
        assert find_user(session, "eve@example.com") is None


def test_api_keys_panel(admin, runtime):
    page = admin.get("/studio/keys")
    assert page.status_code == 200 and "No stored keys yet." in page.text
    csrf = csrf_of(page.text)
    none = admin.post("/studio/keys", data={"name": "CRM", "csrf": csrf})
    assert none.status_code == 400 and "Tick at least one scope." in none.text
    created = admin.post("/studio/keys", data={"name": "CRM export", "scope": ["campaigns", "analytics"], "csrf": csrf})
    assert created.status_code == 200
    key = unescape(NEW_KEY.search(created.text).group(1))
    assert admin.get("/studio/keys").text.count(key) == 0  # shown once
    api = other_client(admin)
    assert api.get("/api/campaigns/none", headers={"X-API-Key": key}).status_code == 404
    with runtime.db.session() as session:
        row = session.query(ApiKey).one()
        assert (row.name, row.scopes) == ("CRM export", ["analytics", "campaigns"])
        key_id = row.id
    assert admin.post(f"/studio/keys/{key_id}/revoke", data={"csrf": csrf}).status_code == 303
    assert api.get("/api/campaigns/none", headers={"X-API-Key": key}).status_code == 401
    assert "revoked" in admin.get("/studio/keys").text
