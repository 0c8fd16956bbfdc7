"""Item wording history, the invitation and reminder outbox, and when each panelist
last opened their page.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "item_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_item_version_item_id_item"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_version")),
        sa.UniqueConstraint("item_id", "version", name=op.f("uq_item_version_item_id_version")),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("panelist_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('invitation', 'reminder')", name=op.f("ck_outbox_message_message_kind")
        ),
        sa.ForeignKeyConstraint(
            ["panelist_id"],
            ["panelist.id"],
            name=op.f("fk_outbox_message_panelist_id_panelist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
            name=op.f("fk_outbox_message_round_id_round"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_outbox_message_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_message_idempotency_key")),
    )
    # Every existing item gets its current wording as its first recorded version.
    op.execute(
        "INSERT INTO item_version (item_id, version, spec, note, created_at) "
        "SELECT id, version, spec, 'loaded', CURRENT_TIMESTAMP FROM item"
    )
    with op.batch_alter_table("panelist", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("panelist", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")

    op.drop_table("outbox_message")
    op.drop_table("item_version")
