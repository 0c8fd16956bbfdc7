"""Reminders planned before each round's deadline, and cancelled reminders.

``reminder_schedule``: a study's reminder so many hours before the deadline of each
round; ``reminder_run``: a schedule fired in a round, at most once (its unique key is
what two sweeps at once race for).  ``message_event.kind`` may now be "cancelled": a
reminder still waiting for delivery when its round closed or its panelist submitted.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('queued', 'sent', 'deferred', 'failed', 'bounced')"
NEW_KINDS = "kind IN ('queued', 'sent', 'deferred', 'failed', 'bounced', 'cancelled')"


def upgrade():
    op.create_table(
        "reminder_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("hours_before", sa.Integer(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "hours_before >= 1", name=op.f("ck_reminder_schedule_hours_before_positive")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_reminder_schedule_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_schedule")),
        sa.UniqueConstraint(
            "study_id", "hours_before", name=op.f("uq_reminder_schedule_study_id_hours_before")
        ),
    )
    op.create_table(
        "reminder_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["reminder_schedule.id"],
            name=op.f("fk_reminder_run_schedule_id_reminder_schedule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
            name=op.f("fk_reminder_run_round_id_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_run")),
        sa.UniqueConstraint(
            "schedule_id", "round_id", name=op.f("uq_reminder_run_schedule_id_round_id")
        ),
    )
    with op.batch_alter_table("message_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_message_event_message_event_kind"), type_="check")
        batch_op.create_check_constraint("message_event_kind", NEW_KINDS)


def downgrade():
    op.execute("DELETE FROM message_event WHERE kind = 'cancelled'")
    with op.batch_alter_table("message_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_message_event_message_event_kind"), type_="check")
        batch_op.create_check_constraint("message_event_kind", OLD_KINDS)
    op.drop_table("reminder_run")
    op.drop_table("reminder_schedule")
