"""A small copy of each round summary for the pages that read it at a glance.

``round_summary.glance``: the parts of the summary whose size depends on the items, not
on the panel (surveys.summary_glance), written at each close.  Summaries stored before
keep it empty and are read as before.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05

"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("glance", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.drop_column("glance")
