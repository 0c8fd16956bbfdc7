"""A small copy of each round summary for the pages that read it at a glance.

``round_summary.glance``: the parts of the summary whose size depends on the items, not
on the panel (surveys.summary_glance), written at each close.  The summaries stored
before get theirs here, one summary at a time (each may be tens of MB at 100,000
panelists), by the rule as it stands at this revision (``_glance`` below, a frozen copy
of ``surveys.summary_glance.summary_glance``: a migration must not change when the
application's code does).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05

"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

#: The heaviest experts of the classical model a glance keeps.
STORED_EXPERTS = 25

summaries = sa.table(
    "round_summary",
    sa.column("id", sa.Integer()),
    sa.column("statistics", sa.JSON()),
    sa.column("glance", sa.JSON()),
)


def _glance(statistics: dict[str, Any]) -> dict[str, Any]:
    """The glance of a summary's statistics, as surveys.summary_glance made it at 0022."""
    glance: dict[str, Any] = {"rows": statistics.get("rows", [])}
    model = statistics.get("classical_model")
    if model is not None:
        experts = model.get("experts", [])
        glance["classical_model"] = {
            **{key: value for key, value in model.items() if key != "experts"},
            "experts": experts[:STORED_EXPERTS],
            "weighted_experts": sum(1 for row in experts if (row.get("weight") or 0) > 0),
        }
    signposts = statistics.get("signposts")
    if signposts is not None:
        glance["signposts"] = {
            key: value for key, value in signposts.items() if key != "individual"
        }
    if "cross_impact" in statistics:
        glance["cross_impact"] = statistics["cross_impact"]
    return glance


def upgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("glance", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for summary_id in list(connection.execute(sa.select(summaries.c.id)).scalars()):
        statistics = connection.execute(
            sa.select(summaries.c.statistics).where(summaries.c.id == summary_id)
        ).scalar_one()
        connection.execute(
            summaries.update()
            .where(summaries.c.id == summary_id)
            .values(glance=_glance(statistics or {}))
        )


def downgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.drop_column("glance")
