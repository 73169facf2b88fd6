"""events: drop the indexes nothing reads since analytics reads rollups (0004)

Every stored event updated seven indexes; three remain: the primary key, the unique
(render_id, event_id) (dedupe; it also serves render_id lookups and cascades) and
(campaign_id, id) for the export cursor. Rebuilding a campaign's rollups (an offline
step) sorts its events instead of reading them in index order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 16:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_events_type', table_name='events')
    op.drop_index('ix_events_render_id', table_name='events')
    op.drop_index('ix_events_campaign_type', table_name='events')
    op.drop_index('ix_events_campaign_session_seq', table_name='events')


def downgrade() -> None:
    op.create_index('ix_events_campaign_session_seq', 'events', ['campaign_id', 'render_id', 'session_id', 'seq'],
                    unique=False)
    op.create_index('ix_events_campaign_type', 'events', ['campaign_id', 'type'], unique=False)
    op.create_index('ix_events_render_id', 'events', ['render_id'], unique=False)
    op.create_index('ix_events_type', 'events', ['type'], unique=False)
