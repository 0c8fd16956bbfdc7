"""Round closings: a close asked for in the console and computed by a job.

``round_closing``: one close of a round, asked for in a request and computed by a job
(surveys.closing), with its state and, when it failed, why.  At most one of each round
is queued or running at a time (a partial unique index).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'running')")


def upgrade():
    op.create_table(
        "round_closing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="closing_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alive_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retire", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["user_account.id"],
            name=op.f("fk_round_closing_requested_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
            name=op.f("fk_round_closing_round_id_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_closing")),
    )
    with op.batch_alter_table("round_closing", schema=None) as batch_op:
        batch_op.create_index(
            "uq_round_closing_unfinished",
            ["round_id"],
            unique=True,
            sqlite_where=UNFINISHED,
            postgresql_where=UNFINISHED,
        )


def downgrade():
    with op.batch_alter_table("round_closing", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_round_closing_unfinished", sqlite_where=UNFINISHED, postgresql_where=UNFINISHED
        )
    op.drop_table("round_closing")
