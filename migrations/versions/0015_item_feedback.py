"""Feedback computed once at close, read by expert pages: per item and reasons.

``item_feedback``: one record per closed round and item (summary rows, chart bars,
"can't judge" count, reasons per stratum); ``feedback_reason``: the round's reasons
without authors, numbered within their stratum, pinnable by a facilitator.  Rounds
closed before this revision get theirs from their stored summary and answers the first
time a page asks (``surveys.feedback``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "item_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=63), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
            name=op.f("fk_item_feedback_round_id_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_feedback")),
        sa.UniqueConstraint(
            "round_id", "item_key", name=op.f("uq_item_feedback_round_id_item_key")
        ),
    )
    op.create_table(
        "feedback_reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=63), nullable=False),
        sa.Column("stratum", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
            name=op.f("fk_feedback_reason_round_id_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_reason")),
        sa.UniqueConstraint(
            "round_id",
            "item_key",
            "stratum",
            "position",
            name=op.f("uq_feedback_reason_round_id_item_key_stratum_position"),
        ),
    )
    op.create_index(
        "ix_feedback_reason_pinned", "feedback_reason", ["round_id", "pinned_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_feedback_reason_pinned", table_name="feedback_reason")
    op.drop_table("feedback_reason")
    op.drop_table("item_feedback")
