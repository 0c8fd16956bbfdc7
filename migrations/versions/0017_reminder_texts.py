"""A planned reminder's own texts.

``reminder_text``: the subject and body a planned reminder (``reminder_schedule``) is
sent with in one language, when the facilitator gives it a text of its own ("3 days
before" need not say what "the last day" says); without one it is sent with the
study's reminder text, as every planned reminder was before this revision.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reminder_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["reminder_schedule.id"],
            name=op.f("fk_reminder_text_schedule_id_reminder_schedule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_reminder_text_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_text")),
        sa.UniqueConstraint(
            "schedule_id", "language", name=op.f("uq_reminder_text_schedule_id_language")
        ),
    )


def downgrade():
    op.drop_table("reminder_text")
