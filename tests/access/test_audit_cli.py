"""Every ``pvideo`` command that acts leaves one audit entry naming the command line and the
operating-system account that ran it, with its target; none holds a value of the customers file."""

from __future__ import annotations

import getpass
import json
import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.db.engine import Database
from pvideo.db.models import ApiKey, AuditEntry, User

# every row is bad (a price that is no number): the campaign is stored, and nothing is left to render
CUSTOMERS = "customer_id,first_name,plan,price\nCUST-QW-5501,Ottoline Farquharson,Iridium-T4,abc\n"


@pytest.fixture()
def pvideo(settings, monkeypatch):
    for key, value in {
        "PVIDEO_DATA_DIR": settings.data_dir,
        "PVIDEO_ASSETS_DIR": settings.assets_dir,
        "PVIDEO_SCENES_DIR": settings.scenes_dir,
        "PVIDEO_SECRET_KEY": settings.secret_key,
        "PVIDEO_PUBLIC_BASE_URL": "http://testserver",
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("PVIDEO_REDIS_URL", raising=False)
    monkeypatch.delenv("PVIDEO_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: object) -> str:
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def test_each_command_is_one_entry_naming_the_cli_and_its_user(pvideo, settings, tmp_path):
    cli = f"cli {getpass.getuser()}"
    pvideo("user", "add", "mia@example.com", "--role", "marketing")
    pvideo("user", "add", "mia@example.com", "--role", "analyst")  # again: a new link (and role), not a new user
    pvideo("user", "disable", "mia@example.com")
    pvideo("user", "enable", "mia@example.com")
    key_id = re.search(r"API key (\w+)", pvideo("apikey", "create", "--scope", "campaigns", "--name", "crm")).group(1)
    pvideo("apikey", "revoke", key_id)
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS)
    campaign = pvideo("campaign", "submit", settings.scenes_dir / "card.yaml", customers).strip().splitlines()[-1]
    pvideo("campaign", "cancel", campaign)
    pvideo("campaign", "retry", campaign)
    pvideo("campaign", "manifest", campaign, "-o", tmp_path / "links.json")
    assert "CUST-QW-5501" in (tmp_path / "links.json").read_text()

    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            user_id = session.scalar(select(User.id))
            prefix = session.scalar(select(ApiKey.prefix))
            entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
            seen = [(e.action, e.actor, e.role, e.target_type, e.target_id, e.detail) for e in entries]
    finally:
        db.dispose()
    user = {"email": "mia@example.com"}
    assert seen == [
        ("user.create", cli, None, "user", user_id, {**user, "role": "marketing"}),
        ("user.invite", cli, None, "user", user_id, {**user, "role": "analyst"}),
        ("user.disable", cli, None, "user", user_id, user),
        ("user.enable", cli, None, "user", user_id, user),
        ("apikey.create", cli, None, "api_key", key_id, {"name": "crm", "prefix": prefix, "scopes": ["campaigns"]}),
        ("apikey.revoke", cli, None, "api_key", key_id, {"name": "crm", "prefix": prefix}),
        ("campaign.submit", cli, None, "campaign", campaign, {"scene": "card", "rows": 1, "rejected": 1}),
        ("campaign.cancel", cli, None, "campaign", campaign, {"cancelled": 0}),
        ("campaign.retry", cli, None, "campaign", campaign, {"queued": 0}),
        ("manifest.download", cli, None, "campaign", campaign, {"format": "json"}),
    ]
    stored = json.dumps(seen, default=str)
    for value in ("CUST-QW-5501", "Ottoline", "Farquharson", "Iridium-T4"):
        assert value not in stored
