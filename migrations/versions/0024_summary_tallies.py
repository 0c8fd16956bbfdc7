"""The tally of each round summary's distributions, for the results page.

``round_summary.tallies``: each distribution's distinct answers with how many gave each
(surveys.results.summary_tallies), written at each close, so that the results page
draws its charts without reading every answer (at 100,000 panelists, most of a summary's
tens of MB).  The summaries stored before get theirs here, one summary at a time, by the
rule as it stands at this revision (``_tallies`` below, a frozen copy of
``surveys.results.summary_tallies`` and ``analysis.histogram.tally``: a migration must
not change when the application's code does).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06

"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

summaries = sa.table(
    "round_summary",
    sa.column("id", sa.Integer()),
    sa.column("statistics", sa.JSON()),
    sa.column("tallies", sa.JSON()),
)


def _tallies(statistics: dict[str, Any]) -> dict[str, Any]:
    """The tallies of a summary's distributions, as surveys.results made them at 0024:
    distinct answers ascending (NaN and None left out), each with its count."""
    tallies: dict[str, Any] = {}
    for key, components in statistics.get("distributions", {}).items():
        tallies[key] = {}
        for component, values in components.items():
            counted: dict[float, int] = {}
            for value in values:
                if value is not None and value == value:
                    counted[value] = counted.get(value, 0) + 1
            distinct = sorted(counted)
            tallies[key][component] = {
                "values": distinct,
                "counts": [counted[value] for value in distinct],
            }
    return tallies


def upgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tallies", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for summary_id in list(connection.execute(sa.select(summaries.c.id)).scalars()):
        statistics = connection.execute(
            sa.select(summaries.c.statistics).where(summaries.c.id == summary_id)
        ).scalar_one()
        connection.execute(
            summaries.update()
            .where(summaries.c.id == summary_id)
            .values(tallies=_tallies(statistics or {}))
        )


def downgrade():
    with op.batch_alter_table("round_summary", schema=None) as batch_op:
        batch_op.drop_column("tallies")
