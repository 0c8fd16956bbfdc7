"""Tags on open-text answers, so that a facilitator can group the last round's answers
before one group becomes an item.

A tag belongs to the study, never to a panelist: a row names the open-text item and
the SHA-256 of the answer's text, not the response, so nothing links it to who wrote
it.  Existing studies start with no tags.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "answer_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("answer_sha256", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.Column("tagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(answer_sha256) = 64", name=op.f("ck_answer_tag_answer_sha256_length")
        ),
        sa.CheckConstraint("length(tag) > 0", name=op.f("ck_answer_tag_tag_given")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_answer_tag_item_id_item"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_answer_tag_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_tag")),
        sa.UniqueConstraint(
            "item_id", "answer_sha256", name=op.f("uq_answer_tag_item_id_answer_sha256")
        ),
    )
    op.create_index("ix_answer_tag_study_id", "answer_tag", ["study_id"], unique=False)


def downgrade():
    op.drop_index("ix_answer_tag_study_id", table_name="answer_tag")
    op.drop_table("answer_tag")
