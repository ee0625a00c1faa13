"""job queue (jobs), 件号 reservations and freed numbers for parallel archive builds

Revision ID: 0013_queue_jobs
Revises: 0013_bank_payments
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
import core.db


revision = '0013_queue_jobs'
down_revision = '0013_bank_payments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'jobs',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        sa.Column('run_after', core.db.AwareDateTime(timezone=True), nullable=False),
        sa.Column('lease_until', core.db.AwareDateTime(timezone=True), nullable=True),
        sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('parent_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('progress_done', sa.Integer(), nullable=False),
        sa.Column('progress_total', sa.Integer(), nullable=True),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.JSON(), nullable=True),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('created_at', core.db.AwareDateTime(timezone=True), nullable=False),
        sa.Column('started_at', core.db.AwareDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', core.db.AwareDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_jobs_kind', 'jobs', ['kind'], unique=False)
    op.create_index('ix_jobs_parent_id', 'jobs', ['parent_id'], unique=False)
    op.create_index('ix_jobs_runnable', 'jobs', ['state', 'run_after'], unique=False)
    op.create_table(
        'archive_item_reservations',
        sa.Column('series', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('item_no', sa.Integer(), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('reserved_at', core.db.AwareDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', core.db.AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('series', 'item_no'),
    )
    op.create_index('ix_archive_item_reservations_holder', 'archive_item_reservations', ['holder'], unique=False)
    op.create_table(
        'archive_item_gaps',
        sa.Column('series', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('item_no', sa.Integer(), nullable=False),
        sa.Column('freed_at', core.db.AwareDateTime(timezone=True), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint('series', 'item_no'),
    )


def downgrade() -> None:
    op.drop_table('archive_item_gaps')
    op.drop_index('ix_archive_item_reservations_holder', table_name='archive_item_reservations')
    op.drop_table('archive_item_reservations')
    op.drop_index('ix_jobs_runnable', table_name='jobs')
    op.drop_index('ix_jobs_parent_id', table_name='jobs')
    op.drop_index('ix_jobs_kind', table_name='jobs')
    op.drop_table('jobs')
