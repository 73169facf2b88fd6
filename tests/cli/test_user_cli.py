"""``pvideo user``: the invite link it prints works in the studio; list, disable, enable; clear errors."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from pvideo.cli import app
from tests.conftest import SECRET
from tests.studio.conftest import PASSWORD

FORM_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(r"^http://testserver/studio/invite/[A-Za-z0-9_-]+$", re.MULTILINE)


@pytest.fixture()
def pvideo(settings):
    """``pvideo ...`` on the test app's database, as an operator on the server runs it."""
    runner = CliRunner()
    env = {
        "PVIDEO_DATA_DIR": str(settings.data_dir),
        "PVIDEO_PUBLIC_BASE_URL": "http://testserver",
        "PVIDEO_SECRET_KEY": SECRET,
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }

    def invoke(*args: str):
        return runner.invoke(app, list(args), env=env)

    return invoke


def accept(client, link: str, password: str = PASSWORD):
    path = urlsplit(link).path
    page = client.get(path)
    assert page.status_code == 200, page.text
    form = {"password": password, "password_again": password, "csrf": FORM_CSRF.search(page.text).group(1)}
    return client.post(path, data=form, follow_redirects=False)


def sign_in(client, email: str, password: str = PASSWORD):
    client.cookies.delete("pvideo_studio")
    page = client.get("/studio/sign-in", follow_redirects=False)
    form = {"email": email, "password": password, "csrf": FORM_CSRF.search(page.text).group(1)}
    return client.post("/studio/sign-in", data=form, follow_redirects=False)


def test_user_add_prints_a_link_that_works_once(pvideo, client):
    result = pvideo("user", "add", "Mia@Example.com", "--role", "marketing")
    assert result.exit_code == 0, result.output
    assert "invited mia@example.com (marketing)" in result.stdout
    link = LINK.search(result.stdout).group(0)

    signed_in = accept(client, link)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/studio/campaigns"
    account = client.get("/studio/account", follow_redirects=False)
    assert account.status_code == 200 and "mia@example.com" in account.text
    assert client.get(urlsplit(link).path).status_code == 410

    listed = pvideo("user", "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[0].split("\t")[:3] == ["mia@example.com", "marketing", "active"]


def test_user_disable_and_enable(pvideo, client):
    link = LINK.search(pvideo("user", "add", "ann@example.com", "--role", "analyst").stdout).group(0)
    assert accept(client, link).status_code == 303

    disabled = pvideo("user", "disable", "ANN@example.com")
    assert disabled.exit_code == 0 and "disabled ann@example.com" in disabled.stdout
    assert client.get("/studio/account", follow_redirects=False).status_code == 303  # the session ended
    assert sign_in(client, "ann@example.com").status_code == 401
    assert "\tdisabled\t" in pvideo("user", "list").stdout

    assert pvideo("user", "enable", "ann@example.com").exit_code == 0
    assert sign_in(client, "ann@example.com").status_code == 303


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "add", "not-an-email"), "not an email address"),
        (("user", "add", "a@example.com", "--role", "boss"), "'boss' is not one of"),
        (("user", "disable", "not-an-email"), "not an email address"),
    ],
)
def test_bad_email_or_role_is_a_clear_error(pvideo, args, message):
    result = pvideo(*args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_unknown_user(pvideo):
    result = pvideo("user", "enable", "nobody@example.com")
    assert result.exit_code == 1 and "no user 'nobody@example.com'" in result.stderr
