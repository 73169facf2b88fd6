"""renders: an index on customer_id

Erasing a customer (``DELETE /api/customers/{id}``) and exporting their data look the person
up across every campaign by ``customer_id``; without an index each of them read the whole
renders table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 11:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_renders_customer_id", "renders", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_renders_customer_id", table_name="renders")
