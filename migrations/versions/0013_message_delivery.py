"""Delivery by a job queue: each outbox message's attempts, next attempt and failure,
and the history of its delivery.

``outbox_message.attempts``: delivery attempts begun; ``next_attempt_at``: when delivery
may take the message up again (after a temporary failure with backoff, when a dead
worker's claim lapses, or when its job was lost); ``failed_at``: when delivery gave up
for good (the reason stays in ``error``).  ``message_event``: queued, sent, deferred,
failed, bounced, with the server's reason (surveys.delivery).

Messages not sent before this revision keep ``next_attempt_at`` empty: they are not
handed to the new delivery by themselves, but wait, as before, for "Send unsent
messages" (a facilitator may have sent them by hand meanwhile).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_outbox_message_next_attempt_at", ["next_attempt_at"], unique=False
        )
    op.create_table(
        "message_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('queued', 'sent', 'deferred', 'failed', 'bounced')",
            name=op.f("ck_message_event_message_event_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_message.id"],
            name=op.f("fk_message_event_message_id_outbox_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_event")),
    )
    with op.batch_alter_table("message_event", schema=None) as batch_op:
        batch_op.create_index("ix_message_event_message_id", ["message_id"], unique=False)


def downgrade():
    with op.batch_alter_table("message_event", schema=None) as batch_op:
        batch_op.drop_index("ix_message_event_message_id")
    op.drop_table("message_event")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_next_attempt_at")
        batch_op.drop_column("failed_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
