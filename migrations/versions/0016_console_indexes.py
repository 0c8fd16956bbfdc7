"""Indexes for the console's counts and pages at large panels.

``ix_response_round_submitted``: the submitted responses by round and panelist.
The console counts, per round, the panelists who submitted (the panel page's counts
and filters, :func:`surveys.panel.panel_census`): with this partial index that is an
index-only scan of the round's submitted entries, read in order, instead of a look-up
per panelist and round in the unique index, or a pass over the whole response table.
At 100,000 panelists a round holds about 2 million response rows.

``ix_outbox_message_panelist_id``: a page of the panel finds its hundred panelists'
invitations without reading the whole outbox (one message per panelist and round).

Revision ID: 0016
Revises: 0017
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0017"
branch_labels = None
depends_on = None

SUBMITTED = sa.text("status = 'submitted'")


def upgrade():
    op.create_index(
        "ix_response_round_submitted",
        "response",
        ["round_id", "panelist_id"],
        unique=False,
        sqlite_where=SUBMITTED,
        postgresql_where=SUBMITTED,
    )
    op.create_index(
        "ix_outbox_message_panelist_id", "outbox_message", ["panelist_id"], unique=False
    )


def downgrade():
    op.drop_index("ix_outbox_message_panelist_id", table_name="outbox_message")
    op.drop_index("ix_response_round_submitted", table_name="response")
