"""Whether a later round starts from each expert's previous answers or blank.

``study.carry_over``: "previous" (the behaviour of every study so far: an item not yet
answered in the round shows the expert's answer from the round before) or "blank".
``round.started_from``: the setting in force when the round opened, so that a round's
stability can say what its answers started from even after an amendment; every round
opened before this revision started from the previous answers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("carry_over", sa.String(length=8), nullable=False, server_default="previous")
        )
        batch_op.create_check_constraint("carry_over_policy", "carry_over IN ('previous', 'blank')")
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_from", sa.String(length=8), nullable=True))
    op.execute("UPDATE round SET started_from = 'previous' WHERE status <> 'draft'")


def downgrade():
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.drop_column("started_from")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_constraint("carry_over_policy", type_="check")
        batch_op.drop_column("carry_over")
