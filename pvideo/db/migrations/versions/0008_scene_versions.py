"""scene library: named scenes with immutable versions; the version a campaign and an upload pin

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:40:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scenes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('scene_versions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('scene_id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('yaml_text', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('author', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['scene_id'], ['scenes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scene_id', 'number', name='uq_scene_versions_scene_number')
    )
    op.add_column('campaigns', sa.Column('scene_version_id', sa.String(length=32), nullable=True))
    op.add_column('studio_uploads', sa.Column('scene_version_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column('studio_uploads', 'scene_version_id')
    op.drop_column('campaigns', 'scene_version_id')
    op.drop_table('scene_versions')
    op.drop_table('scenes')
