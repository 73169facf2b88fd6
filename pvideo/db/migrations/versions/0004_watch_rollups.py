"""watch rollups: incremental session state, per-viewer and per-session CTA rollups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 13:30:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('watch_sessions', sa.Column('last_seq', sa.Integer(), nullable=True))
    op.add_column('watch_sessions', sa.Column('last_kind', sa.String(length=32), nullable=True))
    op.add_column('watch_sessions', sa.Column('last_position', sa.Float(), nullable=True))
    op.create_table('watch_viewers',
    sa.Column('render_id', sa.String(length=32), nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('device', sa.String(length=16), nullable=True),
    sa.Column('opened', sa.Boolean(), nullable=False),
    sa.Column('played', sa.Boolean(), nullable=False),
    sa.Column('ended', sa.Boolean(), nullable=False),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('watched', sa.Float(), nullable=False),
    sa.Column('buckets', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['render_id'], ['renders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('render_id')
    )
    op.create_index(op.f('ix_watch_viewers_campaign_id'), 'watch_viewers', ['campaign_id'], unique=False)
    op.create_table('watch_ctas',
    sa.Column('render_id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('cta_id', sa.String(length=100), nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=False),
    sa.Column('impressions', sa.Integer(), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['render_id'], ['renders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('render_id', 'session_id', 'cta_id')
    )
    op.create_index(op.f('ix_watch_ctas_campaign_id'), 'watch_ctas', ['campaign_id'], unique=False)
    # CTA counts of the events already stored (viewer rollups missing here are computed on the fly)
    op.execute("INSERT INTO watch_ctas (render_id, session_id, cta_id, campaign_id, impressions, clicks) "
               "SELECT render_id, COALESCE(session_id, ''), cta_id, campaign_id, "
               "SUM(CASE WHEN type = 'cta_impression' THEN 1 ELSE 0 END), "
               "SUM(CASE WHEN type = 'cta_click' THEN 1 ELSE 0 END) FROM events "
               "WHERE type IN ('cta_impression', 'cta_click') AND cta_id IS NOT NULL "
               "GROUP BY render_id, COALESCE(session_id, ''), cta_id, campaign_id")


def downgrade() -> None:
    op.drop_index(op.f('ix_watch_ctas_campaign_id'), table_name='watch_ctas')
    op.drop_table('watch_ctas')
    op.drop_index(op.f('ix_watch_viewers_campaign_id'), table_name='watch_viewers')
    op.drop_table('watch_viewers')
    op.drop_column('watch_sessions', 'last_position')
    op.drop_column('watch_sessions', 'last_kind')
    op.drop_column('watch_sessions', 'last_seq')
