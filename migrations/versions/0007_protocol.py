"""Pre-registration: a protocol stamp per study when round 1 opens, the amendments
made after it, and the study setting for items that reached consensus.

Studies whose round 1 opened before this upgrade have no stamp (their definition then
cannot be rebuilt): their changes are not amendments.  Every existing study keeps
items at consensus in the next round ("stay"), as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consensus_items", sa.String(length=8), nullable=False, server_default="stay")
        )
        batch_op.create_check_constraint(
            "consensus_items_policy", "consensus_items IN ('leave', 'stay', 'ask')"
        )
    # The default was only for rows that existed before; the application sets it.
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.alter_column("consensus_items", server_default=None)

    op.create_table(
        "protocol_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("stamped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("consensus_items", sa.String(length=8), nullable=False),
        sa.Column("user_email", sa.String(length=320), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_protocol_stamp_sha256_length")),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_protocol_stamp_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_protocol_stamp_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_stamp")),
        sa.UniqueConstraint("study_id", name=op.f("uq_protocol_stamp_study_id")),
    )
    op.create_table(
        "protocol_amendment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_email", sa.String(length=320), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("what", sa.String(length=200), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_round", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "first_round >= 1", name=op.f("ck_protocol_amendment_first_round_positive")
        ),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_protocol_amendment_reason_given")),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_protocol_amendment_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_protocol_amendment_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_amendment")),
    )
    op.create_index(
        "ix_protocol_amendment_study_id", "protocol_amendment", ["study_id", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_protocol_amendment_study_id", table_name="protocol_amendment")
    op.drop_table("protocol_amendment")
    op.drop_table("protocol_stamp")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_constraint("consensus_items_policy", type_="check")
        batch_op.drop_column("consensus_items")
