"""Each expert's coherence on cross-impact items, private to them.

``coherence_gap``: per closed round, panelist and cross-impact item, the bounds that the
expert's own trigger probabilities and conditional scenario sets put on their scenario
set, and how far what they gave lies outside them (surveys.cross_impact).  Only that
expert's next-round page reads it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "coherence_gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("panelist_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=63), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
            name=op.f("fk_coherence_gap_round_id_round"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["panelist_id"],
            ["panelist.id"],
            name=op.f("fk_coherence_gap_panelist_id_panelist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coherence_gap")),
        sa.UniqueConstraint(
            "round_id",
            "panelist_id",
            "item_key",
            name=op.f("uq_coherence_gap_round_id_panelist_id_item_key"),
        ),
    )


def downgrade():
    op.drop_table("coherence_gap")
