"""voucher_payments: which bank e-receipt (付款回单) pays which posted voucher (issue 13)

Revision ID: 0013_bank_payments
Revises: 0010_ledger_review_search

One row per decision an accountant made about a (voucher, receipt) pair: ``confirmed`` (the
receipt pays the voucher and joins its archive package), ``rejected`` (not suggested again)
or ``removed`` (a decision taken back; ``active_key`` is then NULL). ``active_key`` is UNIQUE,
so one live decision per pair on SQLite and PostgreSQL alike.
"""
import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import core.db

revision = '0013_bank_payments'
down_revision = '0010_ledger_review_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('voucher_payments',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('voucher_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('receipt_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('active_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('decided_at', core.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('removed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('removed_at', core.db.AwareDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['receipt_id'], ['invoices.id'], ),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('active_key')
    )
    with op.batch_alter_table('voucher_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_payments_receipt_id'), ['receipt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_payments_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_payments_voucher_id'), ['voucher_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('voucher_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_payments_voucher_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_payments_state'))
        batch_op.drop_index(batch_op.f('ix_voucher_payments_receipt_id'))
    op.drop_table('voucher_payments')
