"""viewer answers (responses) and the interaction an event is about

``responses``: one row per answer, deduplicated by (render_id, event_id), one per interaction
and viewer session. ``events.interaction_id`` with a partial index: only interaction events
are in it, so the events' insert path pays nothing for the others.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_INTERACTION_EVENTS = sa.text("interaction_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("render_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("interaction_id", sa.String(length=64), nullable=False),
        sa.Column("interaction_type", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("pii", sa.Boolean(), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=True),
        sa.Column("position", sa.Float(), nullable=True),
        sa.Column("client_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["render_id"], ["renders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("render_id", "event_id", name="uq_responses_render_event"),
        sa.UniqueConstraint(
            "render_id", "session_id", "interaction_id", name="uq_responses_render_session_interaction"
        ),
    )
    op.create_index("ix_responses_campaign_interaction", "responses", ["campaign_id", "interaction_id"], unique=False)
    op.add_column("events", sa.Column("interaction_id", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_events_campaign_interaction",
        "events",
        ["campaign_id", "interaction_id"],
        unique=False,
        postgresql_where=_INTERACTION_EVENTS,
        sqlite_where=_INTERACTION_EVENTS,
    )


def downgrade() -> None:
    op.drop_index("ix_events_campaign_interaction", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("interaction_id")
    op.drop_index("ix_responses_campaign_interaction", table_name="responses")
    op.drop_table("responses")
