"""vouchers: 审核 (reviewer, last editor), freed numbers; invoices: trigram search

Revision ID: 0010_ledger_review_search
Revises: 0008_audit_append_only

* ``vouchers.reviewed_by/at`` (审核人) and ``updated_by/at`` (last editor of a draft);
* ``voucher_number_gaps``: numbers freed by deleted or re-dated drafts, taken by the next
  voucher of the period so that 记账凭证 numbers stay gap-free;
* ``invoices.search_text`` and its trigram index: an FTS5 ``trigram`` table kept in sync by
  triggers on SQLite, a ``pg_trgm`` GIN index on PostgreSQL (see ``invoice.search``). A later
  migration that recreates ``invoices`` on SQLite (batch "move and copy") drops the triggers
  and changes rowids: it must run ``invoice.search.SQLITE_DROP``/``SQLITE_DDL`` and
  ``SQLITE_REBUILD`` again.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
import core.db
from invoice import search


revision = '0010_ledger_review_search'
down_revision = '0010_accounts_users'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('vouchers', sa.Column('reviewed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.add_column('vouchers', sa.Column('reviewed_at', core.db.AwareDateTime(timezone=True), nullable=True))
    op.add_column('vouchers', sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.add_column('vouchers', sa.Column('updated_at', core.db.AwareDateTime(timezone=True), nullable=True))
    op.create_table('voucher_number_gaps',
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('word', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('freed_at', core.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('freed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('voucher_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.PrimaryKeyConstraint('period', 'word', 'seq')
    )
    op.add_column('invoices', sa.Column('search_text', sa.Text(), nullable=True))
    _fill_search_text()
    if op.get_bind().dialect.name == "postgresql":
        for statement in search.PG_DDL:
            op.execute(statement)
    else:
        for statement in search.SQLITE_DDL:
            op.execute(statement)
        op.execute(search.SQLITE_REBUILD)


def _fill_search_text(batch: int = 2000) -> None:
    """Existing invoices get their search line (new ones get it from the registry)."""
    bind = op.get_bind()
    invoices = sa.table('invoices', sa.column('id', sa.String), sa.column('seller_name', sa.String),
                        sa.column('seller_tax_id', sa.String), sa.column('number', sa.String),
                        sa.column('code', sa.String), sa.column('key', sa.String),
                        sa.column('buyer_name', sa.String), sa.column('total', sa.Numeric(18, 2)),
                        sa.column('amount', sa.Numeric(18, 2)), sa.column('data', sa.JSON),
                        sa.column('search_text', sa.Text))
    last = ""
    while True:
        rows = bind.execute(sa.select(invoices).where(invoices.c.id > last).order_by(invoices.c.id)
                            .limit(batch)).mappings().all()
        if not rows:
            break
        for row in rows:
            fields = {k: row[k] for k in ("seller_name", "seller_tax_id", "number", "code", "key", "buyer_name")}
            for k in ("total", "amount"):
                fields[k] = f"{row[k]:.2f}" if row[k] is not None else None
            data = row["data"] if isinstance(row["data"], dict) else {}
            bind.execute(invoices.update().where(invoices.c.id == row["id"])
                         .values(search_text=search.search_text(fields, data.get("items") or ())))
        last = rows[-1]["id"]


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in search.PG_DROP:
            op.execute(statement)
    else:
        for statement in search.SQLITE_DROP:
            op.execute(statement)
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('search_text')
    op.drop_table('voucher_number_gaps')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('updated_by')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('reviewed_by')
