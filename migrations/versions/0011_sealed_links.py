"""Personal links kept sealed, so that every message carries the same link.

``panelist.token_sealed``: the link's token encrypted with a key that is never in the
database (derived from ELICIT_SECRET_KEY, or ELICIT_LINK_KEYS; see surveys.links).
The hash (``token_hash``) still finds the panelist.

A panelist added before this revision has no sealed token: only its hash was kept, so
their link cannot be recovered.  Their first invitation after the upgrade issues a new
link and seals it, as every invitation did before (a reminder does so only for a
panelist who has not opened the round, so that no open page is cut off); from then on
they keep that link.  Messages queued before the upgrade and not sent yet hold their
link in their text, as before, and it is replaced by "[link sent]" once sent.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("panelist", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_sealed", sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table("panelist", schema=None) as batch_op:
        batch_op.drop_column("token_sealed")
