"""Message templates per study, kind and language; the lead's name and contact; each
panelist's time zone.

``message_template``: a study's own subject and body for the invitation, the reminder or
the thank-you in one language (surveys.message_templates); a study without one uses the
default text, as every study did before this revision.
``study.lead_name``, ``study.lead_contact``: how messages are signed (empty: "The study
team"); ``study.send_thank_you``: whether a panelist who submits is thanked by a message
(off, as before); ``outbox_message.kind`` may now be "thank_you".  ``roster_entry.time_zone``: the IANA zone a message writes the deadline in
(none: UTC, as before).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "message_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('invitation', 'reminder', 'thank_you')",
            name=op.f("ck_message_template_message_template_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_message_template_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user_account.id"],
            name=op.f("fk_message_template_updated_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_template")),
        sa.UniqueConstraint(
            "study_id", "kind", "language", name=op.f("uq_message_template_study_id_kind_language")
        ),
    )
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lead_name", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("lead_contact", sa.String(length=320), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("send_thank_you", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_message_kind"), type_="check")
        batch_op.create_check_constraint(
            "message_kind", "kind IN ('invitation', 'reminder', 'thank_you')"
        )
    with op.batch_alter_table("roster_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("roster_entry", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
    op.execute("DELETE FROM outbox_message WHERE kind = 'thank_you'")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_message_kind"), type_="check")
        batch_op.create_check_constraint("message_kind", "kind IN ('invitation', 'reminder')")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("send_thank_you")
        batch_op.drop_column("lead_contact")
        batch_op.drop_column("lead_name")
    op.drop_table("message_template")
