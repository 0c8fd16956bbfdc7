"""Initial schema: studies, items, panel (pseudonyms apart from the roster), rounds,
responses and round summaries, with the constraints that protect them.

Revision ID: 0001
Revises: 
Create Date: 2026-11-27

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('title', sa.JSON(), nullable=False),
    sa.Column('introduction', sa.JSON(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('max_rounds', sa.Integer(), nullable=False),
    sa.Column('quantile_method', sa.String(length=32), nullable=False),
    sa.Column('consensus', sa.JSON(), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('max_rounds >= 1', name=op.f('ck_study_max_rounds_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study')),
    sa.UniqueConstraint('slug', name=op.f('uq_study_slug'))
    )
    op.create_table('item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('version >= 1', name=op.f('ck_item_version_positive')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_item_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item')),
    sa.UniqueConstraint('study_id', 'key', name=op.f('uq_item_study_id_key'))
    )
    op.create_table('panelist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sa.String(length=32), nullable=False),
    sa.Column('group', sa.String(length=63), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_panelist_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panelist')),
    sa.UniqueConstraint('study_id', 'pseudonym', name=op.f('uq_panelist_study_id_pseudonym')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_panelist_token_hash'))
    )
    op.create_table('round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'open', 'closed', name='round_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('number >= 1', name=op.f('ck_round_number_positive')),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_round_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_round')),
    sa.UniqueConstraint('study_id', 'number', name=op.f('uq_round_study_id_number'))
    )
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.create_index('uq_round_one_open_per_study', ['study_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('panelist_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('item_version', sa.Integer(), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('draft', 'submitted', name='response_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_response_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['panelist_id'], ['panelist.id'], name=op.f('fk_response_panelist_id_panelist'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_response_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response')),
    sa.UniqueConstraint('panelist_id', 'round_id', 'item_id', name=op.f('uq_response_panelist_id_round_id_item_id'))
    )
    op.create_table('roster_entry',
    sa.Column('panelist_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['panelist_id'], ['panelist.id'], name=op.f('fk_roster_entry_panelist_id_panelist'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('panelist_id', name=op.f('pk_roster_entry'))
    )
    op.create_table('round_summary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('quantile_method', sa.String(length=32), nullable=False),
    sa.Column('respondents', sa.Integer(), nullable=False),
    sa.Column('statistics', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_round_summary_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_round_summary')),
    sa.UniqueConstraint('round_id', name=op.f('uq_round_summary_round_id'))
    )


def downgrade():
    op.drop_table('round_summary')
    op.drop_table('roster_entry')
    op.drop_table('response')
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_index('uq_round_one_open_per_study', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.drop_table('round')
    op.drop_table('panelist')
    op.drop_table('item')
    op.drop_table('study')
