"""render outputs: name -> storage key of each extra output (GIF, WebP, captions, track)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 13:20:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('renders', sa.Column('outputs', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('renders', 'outputs')
