"""The column mapping used with a scene is remembered for the next file, on SQLite and PostgreSQL."""

from __future__ import annotations

from pvideo.db.models import ColumnMapping
from pvideo.jobs.mappings import remember_mapping, remembered_mapping


def test_a_mapping_is_remembered_per_scene_and_replaced(db):
    with db.session() as session:
        assert remembered_mapping(session, "welcome") is None
        remember_mapping(session, "welcome", {"customer_id": "ID", "first_name": "Given name", "plan": None})
    with db.session() as session:
        assert remembered_mapping(session, "welcome") == {"customer_id": "ID", "first_name": "Given name"}
        remember_mapping(session, "welcome", {"customer_id": "Client"})
        assert remembered_mapping(session, "welcome") == {"customer_id": "Client"}
        remember_mapping(session, "bill", {"amount": "Total"})
    with db.session() as session:
        stored = {m.scene_name: m.mapping for m in session.query(ColumnMapping)}
    assert stored == {"welcome": {"customer_id": "Client"}, "bill": {"amount": "Total"}}
