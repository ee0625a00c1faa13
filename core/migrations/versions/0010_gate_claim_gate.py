"""claim gate: invoice overrides, claim ownership (uploaded_by per line, for_others flag)

Revision ID: 0010_gate_claim_gate
Revises: 0008_audit_append_only
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
import core.db


revision = '0010_gate_claim_gate'
down_revision = '0008_audit_append_only'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invoice_overrides',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('invoice_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', core.db.AwareDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('invoice_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_overrides_invoice_id'), ['invoice_id'], unique=False)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('for_others', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uploaded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    # Existing lines: who uploaded their invoice (the fact has always been on the invoice).
    op.execute("UPDATE claim_lines SET uploaded_by = (SELECT invoices.uploaded_by FROM invoices "
               "WHERE invoices.id = claim_lines.invoice_id)")
    op.execute("UPDATE claims SET for_others = " + sa.true().compile(dialect=op.get_bind().dialect).string
               + " WHERE EXISTS (SELECT 1 FROM claim_lines WHERE claim_lines.claim_id = claims.id "
               "AND claim_lines.uploaded_by <> claims.claimant)")


def downgrade() -> None:
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.drop_column('uploaded_by')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('for_others')
    with op.batch_alter_table('invoice_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_overrides_invoice_id'))
    op.drop_table('invoice_overrides')
