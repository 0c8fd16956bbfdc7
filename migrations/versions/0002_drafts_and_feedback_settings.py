"""Drafts of answers, and the study settings that shape feedback: the minimum number of
answers behind any feedback, the rationale policy, and "I can't judge this".

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("feedback_min_n", sa.Integer(), nullable=False, server_default="3")
        )
        batch_op.add_column(
            sa.Column(
                "rationale_outside_iqr",
                sa.String(length=16),
                nullable=False,
                server_default="optional",
            )
        )
        batch_op.add_column(
            sa.Column("cannot_judge", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_check_constraint("feedback_min_n_positive", "feedback_min_n >= 1")
        batch_op.create_check_constraint(
            "rationale_policy", "rationale_outside_iqr IN ('off', 'optional', 'required')"
        )
    # The defaults were only for rows that existed before; the application sets them.
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.alter_column("feedback_min_n", server_default=None)
        batch_op.alter_column("rationale_outside_iqr", server_default=None)
        batch_op.alter_column("cannot_judge", server_default=None)

    op.create_table(
        "draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("panelist_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["panelist_id"],
            ["panelist.id"],
            name=op.f("fk_draft_panelist_id_panelist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name=op.f("fk_draft_round_id_round"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft")),
        sa.UniqueConstraint(
            "panelist_id", "round_id", name=op.f("uq_draft_panelist_id_round_id")
        ),
    )


def downgrade():
    op.drop_table("draft")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_constraint("rationale_policy", type_="check")
        batch_op.drop_constraint("feedback_min_n_positive", type_="check")
        batch_op.drop_column("cannot_judge")
        batch_op.drop_column("rationale_outside_iqr")
        batch_op.drop_column("feedback_min_n")
