"""privacy: audit log, erasure jobs, interaction tallies, per-campaign tracking and retention

``audit_log`` is append-only; ``erasure_jobs`` keep an erasure going across crashes (the
customer id only as a keyed digest); ``interaction_tallies`` hold the counts of raw interaction
events and answers that were erased or expired. ``campaigns.tracking``, ``retention``,
``ends_at``; ``renders.erased_at`` and ``outputs_expired_at``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# PostgreSQL refuses any UPDATE, DELETE or TRUNCATE of audit_log, whoever asks (pvideo never does)
_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""
_APPEND_ONLY_TRIGGER = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_FUNCTION)
        op.execute(_APPEND_ONLY_TRIGGER)
    op.create_table(
        "erasure_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("render_ids", sa.JSON(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_erasure_jobs_subject", "erasure_jobs", ["subject"], unique=False)
    op.create_index("ix_erasure_jobs_state", "erasure_jobs", ["state"], unique=False)
    op.create_table(
        "interaction_tallies",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("interaction_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "day", "interaction_id", "metric", "key"),
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("tracking", sa.String(length=16), nullable=False, server_default="full"))
        batch.add_column(sa.Column("retention", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("renders") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("outputs_expired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("renders") as batch:
        batch.drop_column("outputs_expired_at")
        batch.drop_column("erased_at")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("ends_at")
        batch.drop_column("retention")
        batch.drop_column("tracking")
    op.drop_table("interaction_tallies")
    op.drop_index("ix_erasure_jobs_state", table_name="erasure_jobs")
    op.drop_index("ix_erasure_jobs_subject", table_name="erasure_jobs")
    op.drop_table("erasure_jobs")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
