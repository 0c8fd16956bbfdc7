"""After the study: observations of signposts and triggers.

``scenario_observation``: a dated observation of a study's signpost (seen, or
explicitly not seen by the date) or trigger (occurred), with its source, from which the
scenario tracker updates the pooled scenario probabilities (surveys.tracking).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scenario_observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_key", sa.String(length=63), nullable=False),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('signpost', 'trigger')",
            name=op.f("ck_scenario_observation_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_scenario_observation_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_scenario_observation_recorded_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_observation")),
    )
    op.create_index(
        "ix_scenario_observation_study_observed",
        "scenario_observation",
        ["study_id", "observed_on"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_scenario_observation_study_observed", table_name="scenario_observation")
    op.drop_table("scenario_observation")
