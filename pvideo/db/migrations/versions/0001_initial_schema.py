"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 11:26:19.307247
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scene_name', sa.String(length=200), nullable=False),
    sa.Column('scene', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('webhook_url', sa.String(length=2048), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('enqueued_through', sa.Integer(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('render_mode', sa.String(length=16), nullable=False),
    sa.Column('outputs', sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_table('renders',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('video_key', sa.String(length=500), nullable=True),
    sa.Column('poster_key', sa.String(length=500), nullable=True),
    sa.Column('thumbnail_key', sa.String(length=500), nullable=True),
    sa.Column('plan_digest', sa.String(length=64), nullable=True),
    sa.Column('hotspots', sa.JSON(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('viewer_token', sa.String(length=200), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('render_seconds', sa.Float(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('viewer_token')
    )
    op.create_index(op.f('ix_renders_campaign_id'), 'renders', ['campaign_id'], unique=False)
    op.create_index('ix_renders_campaign_row', 'renders', ['campaign_id', 'row_number'], unique=False)
    op.create_index('ix_renders_campaign_status_row', 'renders', ['campaign_id', 'status', 'row_number'], unique=False)
    op.create_index(op.f('ix_renders_status'), 'renders', ['status'], unique=False)
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=False),
    sa.Column('render_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Float(), nullable=True),
    sa.Column('cta_id', sa.String(length=100), nullable=True),
    sa.Column('client_ts', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('media_duration', sa.Float(), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.Column('device', sa.String(length=16), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['render_id'], ['renders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('render_id', 'event_id', name='uq_events_render_event')
    )
    op.create_index('ix_events_campaign_id_id', 'events', ['campaign_id', 'id'], unique=False)
    op.create_index('ix_events_campaign_session_seq', 'events', ['campaign_id', 'render_id', 'session_id', 'seq'], unique=False)
    op.create_index('ix_events_campaign_type', 'events', ['campaign_id', 'type'], unique=False)
    op.create_index(op.f('ix_events_render_id'), 'events', ['render_id'], unique=False)
    op.create_index(op.f('ix_events_type'), 'events', ['type'], unique=False)
    op.create_table('failed_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=True),
    sa.Column('render_id', sa.String(length=32), nullable=True),
    sa.Column('event_id', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['render_id'], ['renders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_failed_events_campaign_id'), 'failed_events', ['campaign_id'], unique=False)
    op.create_table('revoked_tokens',
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('render_id', sa.String(length=32), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['render_id'], ['renders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_digest')
    )
    op.create_index(op.f('ix_revoked_tokens_render_id'), 'revoked_tokens', ['render_id'], unique=False)
    op.create_table('watch_sessions',
    sa.Column('render_id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=False),
    sa.Column('started', sa.DateTime(timezone=True), nullable=True),
    sa.Column('device', sa.String(length=16), nullable=True),
    sa.Column('page_views', sa.Integer(), nullable=False),
    sa.Column('played', sa.Boolean(), nullable=False),
    sa.Column('ended', sa.Boolean(), nullable=False),
    sa.Column('intervals', sa.JSON(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['render_id'], ['renders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('render_id', 'session_id')
    )
    op.create_index(op.f('ix_watch_sessions_campaign_id'), 'watch_sessions', ['campaign_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_watch_sessions_campaign_id'), table_name='watch_sessions')
    op.drop_table('watch_sessions')
    op.drop_index(op.f('ix_revoked_tokens_render_id'), table_name='revoked_tokens')
    op.drop_table('revoked_tokens')
    op.drop_index(op.f('ix_failed_events_campaign_id'), table_name='failed_events')
    op.drop_table('failed_events')
    op.drop_index(op.f('ix_events_type'), table_name='events')
    op.drop_index(op.f('ix_events_render_id'), table_name='events')
    op.drop_index('ix_events_campaign_type', table_name='events')
    op.drop_index('ix_events_campaign_session_seq', table_name='events')
    op.drop_index('ix_events_campaign_id_id', table_name='events')
    op.drop_table('events')
    op.drop_index(op.f('ix_renders_status'), table_name='renders')
    op.drop_index('ix_renders_campaign_status_row', table_name='renders')
    op.drop_index('ix_renders_campaign_row', table_name='renders')
    op.drop_index(op.f('ix_renders_campaign_id'), table_name='renders')
    op.drop_table('renders')
    op.drop_table('campaigns')
