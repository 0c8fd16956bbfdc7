"""Responses counted per round and item, for the API's responses pages.

``round_summary.response_counts``: how many responses a closed round holds to each item
(by item id), written at each close, so that a page of responses is placed without
counting the closed rounds again (at 100,000 panelists, 3,000,000 rows a round); the
summaries stored before get theirs here, counted from their round's responses, which
stopped changing when it closed.

``ix_response_round_item`` (round, item, panelist): the open round's responses counted
per item, and one item's responses of a round listed by panelist, from the index alone.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06

"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

summaries = sa.table(
    "round_summary",
    sa.column("id", sa.Integer()),
    sa.column("round_id", sa.Integer()),
    sa.column("response_counts", sa.JSON()),
)
responses = sa.table(
    "response",
    sa.column("round_id", sa.Integer()),
    sa.column("item_id", sa.Integer()),
)


def upgrade():
    op.create_index(
        "ix_response_round_item",
        "response",
        ["round_id", "item_id", "panelist_id"],
        unique=False,
    )
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_counts", sa.JSON(), nullable=True))
    connection = op.get_bind()
    stored = connection.execute(sa.select(summaries.c.id, summaries.c.round_id)).all()
    for summary_id, round_id in stored:
        counts = connection.execute(
            sa.select(responses.c.item_id, sa.func.count())
            .where(responses.c.round_id == round_id)
            .group_by(responses.c.item_id)
        ).all()
        connection.execute(
            summaries.update()
            .where(summaries.c.id == summary_id)
            .values(response_counts={str(item_id): count for item_id, count in counts})
        )


def downgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.drop_column("response_counts")
    op.drop_index("ix_response_round_item", table_name="response")
