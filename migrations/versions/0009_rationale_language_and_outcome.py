"""The language each answer was given in, and whether the panel sees the study's outcome.

``response.language`` is the language of the page the expert submitted from, so that a
rationale shown to a reader of another language can say which language it is written
in.  Rows submitted before this revision have none: readers fall back to their
panelist's preferred language.

``study.show_outcome``: once a study's last round has closed, each panelist's personal
link shows the final, anonymised results with a thank-you; on for existing studies, as
for new ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("show_outcome", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade():
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("show_outcome")
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.drop_column("language")
