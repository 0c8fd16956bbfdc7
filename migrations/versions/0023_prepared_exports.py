"""Prepared exports: a large study's export written by a job, kept for download.

``prepared_export``: one export of a study in one format, asked for in the console or
the API and written by a job (surveys.prepared_exports), with its state, its length and
SHA-256 once written, or why it failed.  At most one of each study and format is queued
or running at a time (a partial unique index).  ``prepared_export_chunk``: the file
itself, in order, a compressed piece a row, so that every web host can send it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'running')")


def upgrade():
    op.create_table(
        "prepared_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "ready",
                "failed",
                name="prepared_status",
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
        sa.Column("closed_rounds", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["user_account.id"],
            name=op.f("fk_prepared_export_requested_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["study.id"],
            name=op.f("fk_prepared_export_study_id_study"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prepared_export")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("prepared_export", schema=None) as batch_op:
        batch_op.create_index("ix_prepared_export_study", ["study_id", "format"], unique=False)
        batch_op.create_index(
            "uq_prepared_export_unfinished",
            ["study_id", "format"],
            unique=True,
            sqlite_where=UNFINISHED,
            postgresql_where=UNFINISHED,
        )
    op.create_table(
        "prepared_export_chunk",
        sa.Column("export_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["prepared_export.id"],
            name=op.f("fk_prepared_export_chunk_export_id_prepared_export"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("export_id", "number", name=op.f("pk_prepared_export_chunk")),
    )


def downgrade():
    op.drop_table("prepared_export_chunk")
    with op.batch_alter_table("prepared_export", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_prepared_export_unfinished", sqlite_where=UNFINISHED, postgresql_where=UNFINISHED
        )
        batch_op.drop_index("ix_prepared_export_study")
    op.drop_table("prepared_export")
