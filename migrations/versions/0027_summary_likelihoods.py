"""Each summary's signpost likelihoods, column-wise, for the scenario tracker.

``round_summary.likelihoods``: the experts' signpost likelihoods of a summary
(``statistics["signposts"]["individual"]``) transposed, one list per signpost and
scenario (surveys.signposts.likelihood_columns), written at each close, so that the
tracker's sensitivity range reads them without the whole summary (at 100,000 panelists
a 93 MB document the database parsed for each view of the tracker) and without a list
per expert.  The summaries stored before get theirs here, one summary at a time, by the
rule as it stands at this revision (``_columns`` below, a frozen copy: a migration must
not change when the application's code does); those whose likelihoods are in the older
row-per-likelihood layout keep none, and the tracker reads them from the summary.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06

"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

summaries = sa.table(
    "round_summary",
    sa.column("id", sa.Integer()),
    sa.column("statistics", sa.JSON()),
    sa.column("likelihoods", sa.JSON()),
)


def _columns(individual: Any) -> dict[str, list[Any]] | None:
    """The column-wise likelihoods of a summary, as surveys.signposts made them at 0027."""
    if not isinstance(individual, dict):
        return None
    columns, experts = individual.get("columns") or [], individual.get("experts") or []
    if not columns or not experts:
        return None
    return {"columns": columns, "values": [list(values) for values in zip(*experts, strict=True)]}


def upgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("likelihoods", sa.JSON(), nullable=True))
    connection = op.get_bind()
    individual = summaries.c.statistics["signposts"]["individual"]
    for summary_id in list(connection.execute(sa.select(summaries.c.id)).scalars()):
        stored = connection.execute(
            sa.select(individual).where(summaries.c.id == summary_id)
        ).scalar_one()
        columns = _columns(stored)
        if columns is not None:
            connection.execute(
                summaries.update().where(summaries.c.id == summary_id).values(likelihoods=columns)
            )


def downgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.drop_column("likelihoods")
