"""The consent policy's pure functions, and the group commit applying it on SQLite and on
PostgreSQL (whose render lookup is its own SQL text, joined to the campaign's mode)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.access_log import logged_path
from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Campaign, Event, WatchViewer
from pvideo.privacy.consent import honoured_consent, records_viewer, refuses_tracking, truncated_address
from pvideo.tracking.anonymity import anonymous_payload
from pvideo.tracking.groupcommit import EventWriter, Pending
from tests.conftest import SECRET
from tests.viewers import done_campaign, event


@pytest.mark.parametrize(
    ("mode", "claimed", "gpc", "dnt", "recorded"),
    [
        ("full", False, None, None, True),
        ("full", False, "1", "1", True),  # full is as before: the campaign's owner chose it
        ("anonymous", True, None, None, False),
        ("consent", False, None, None, False),
        ("consent", True, None, None, True),
        ("consent", True, "1", None, False),
        ("consent", True, None, "1", False),
        ("consent", True, " 1 ", None, False),
        ("consent", True, "0", "0", True),
        ("something else", True, None, None, False),  # an unknown mode records nothing personal
        (None, True, None, None, False),
    ],
)
def test_what_is_recorded_personally(mode, claimed, gpc, dnt, recorded):
    assert records_viewer(mode, claimed, sec_gpc=gpc, dnt=dnt) is recorded


def test_the_headers_refuse_and_outrank_the_page():
    assert refuses_tracking("1", None) and refuses_tracking(None, "1") and not refuses_tracking("0", "")
    assert honoured_consent(True) and not honoured_consent(False)
    assert not honoured_consent(True, sec_gpc="1") and not honoured_consent(True, dnt="1")


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::/48"),
        ("::ffff:198.51.100.23", "198.51.100.0/24"),
        ("testclient", "-"),
        ("", "-"),
        (None, "-"),
    ],
)
def test_an_address_is_cut_to_its_network(address, network):
    assert truncated_address(address) == network


def test_the_log_path_names_no_viewer_and_no_customer():
    assert logged_path("/v/eyJhbGciOi.secret-token/video.mp4") == "/v/{id}/video.mp4"
    assert logged_path("/api/customers/ZX-1234/export") == "/api/customers/{id}/export"
    assert logged_path("/api/events") == "/api/events"


def test_a_refused_event_keeps_no_personal_field():
    raw = {"event_id": "e", "type": "play", "session_id": "s", "seq": 3, "client_ts": "2026-01-01T00:00:00Z"}
    assert anonymous_payload(raw) == {"event_id": "e", "type": "play"}
    assert anonymous_payload("not an object") == "not an object"


@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
def test_the_group_commit_applies_each_campaigns_mode(db):
    tokens = ViewerTokens(SECRET)
    ids = {}
    for mode in ("full", "anonymous", "consent"):
        campaign_id, (viewer,) = done_campaign(db, tokens, viewers=1, name=mode)
        with db.session() as session:
            session.get(Campaign, campaign_id).tracking = mode
        ids[mode] = viewer
    writer = EventWriter(db)

    def batch(mode: str, name: str, consent: bool) -> Pending:
        viewer = ids[mode]
        events = [event("page_view", seq=1, event_id=f"{name}-1"), event("play", 0.0, seq=2, event_id=f"{name}-2")]
        return Pending(viewer.token, viewer.render_id, events, consent=consent)

    # one group, one transaction: each batch as its own campaign's mode allows
    items = [
        batch("full", "f", False),
        batch("anonymous", "a", True),
        batch("consent", "c0", False),
        batch("consent", "c1", True),
    ]
    results = writer.store(items)
    assert [r.stored for r in results if r is not None] == [2, 2, 2, 2]
    writer.close()
    with db.session() as session:
        mine = select(Event).where(Event.render_id.in_([v.render_id for v in ids.values()]))
        kept = {e.event_id: e.session_id for e in session.scalars(mine)}
        assert kept == {
            "f-1": "s1",
            "f-2": "s1",
            "a-1": None,
            "a-2": None,
            "c0-1": None,
            "c0-2": None,
            "c1-1": "s1",
            "c1-2": "s1",
        }
        for viewer in ids.values():
            assert session.get(WatchViewer, viewer.render_id).played  # every mode still counts the play
