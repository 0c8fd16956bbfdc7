"""Stored scores, and the experts' own score (opt-in).

``score_sheet`` and ``forecaster_score``: the panel's scores on the resolved items,
computed when an outcome is recorded or withdrawn or a round closes, and read by the
pages, the report, the exports and the API (surveys.scores), never computed while a
page is drawn.  ``study.show_own_score``: whether each expert's page shows their own
score (off unless the facilitator switches it on).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("show_own_score", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "score_sheet",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_score_sheet_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_score_sheet")),
    )
    op.create_table(
        "forecaster_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("forecaster", sa.String(length=63), nullable=False),
        sa.Column("item", sa.String(length=63), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("log", sa.Float(), nullable=True),
        sa.Column("probability_items", sa.Integer(), nullable=False),
        sa.Column("brier", sa.Float(), nullable=True),
        sa.Column("scenario_items", sa.Integer(), nullable=False),
        sa.Column("brier_scenarios", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_forecaster_score_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecaster_score")),
        sa.UniqueConstraint(
            "study_id",
            "kind",
            "forecaster",
            "item",
            name=op.f("uq_forecaster_score_study_id_kind_forecaster_item"),
        ),
    )


def downgrade():
    op.drop_table("forecaster_score")
    op.drop_table("score_sheet")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("show_own_score")
