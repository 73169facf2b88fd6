"""Studio fixtures: users of each role and test clients signed in as them (through the real cookie)."""

from __future__ import annotations

import re

import pytest

from pvideo.access.signin import DashboardSignin
from pvideo.access.users import accept_invite, invite_user
from tests.conftest import SECRET

PASSWORD = "correct horse battery staple"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def make_user(runtime, email: str, role: str, password: str = PASSWORD) -> str:
    """A user who accepted their invite; their id."""
    with runtime.db.session() as session:
        user, token = invite_user(session, email, role, invited_by="tests")
        accept_invite(session, token, password)
        user_id = user.id
        session.commit()
    return user_id


def sign_in_as(client, runtime, email: str, role: str) -> str:
    """Make the user and give ``client`` their session cookie; the user's id."""
    user_id = make_user(runtime, email, role)
    with runtime.db.session() as session:
        from pvideo.db.models import User

        generation = session.get(User, user_id).session_generation
    client.cookies.set("pvideo_studio", DashboardSignin(SECRET).user_cookie(user_id, generation), path="/studio")
    return user_id


def csrf_of(page_html: str) -> str:
    """The CSRF token a studio page carries (its ``<meta name="csrf-token">``)."""
    return CSRF_META.search(page_html).group(1)


@pytest.fixture
def marketer(client, runtime):
    """``client`` signed in as a marketing user."""
    sign_in_as(client, runtime, "mia@example.com", "marketing")
    return client


@pytest.fixture
def analyst(client, runtime):
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    return client


@pytest.fixture
def admin(client, runtime):
    sign_in_as(client, runtime, "ada@example.com", "admin")
    return client
