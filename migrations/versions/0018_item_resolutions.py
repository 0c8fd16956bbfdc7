"""What happened: item resolutions.

``item_resolution``: the outcome of a probability item ("yes" or "no") or of a scenario
set (the scenario that unfolded), the date it was known and its source, one per item of
a study, from which the panel's forecasts are scored (surveys.resolutions).

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "item_resolution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=63), nullable=False),
        sa.Column("outcome", sa.String(length=63), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_item_resolution_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_item_resolution_recorded_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_resolution")),
        sa.UniqueConstraint(
            "study_id", "item_key", name=op.f("uq_item_resolution_study_id_item_key")
        ),
    )


def downgrade():
    op.drop_table("item_resolution")
