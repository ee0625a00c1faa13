"""accounts: case-folded unique usernames, display names, session cut-off, login throttle

Revision ID: 0010_accounts_users
Revises: 0008_audit_append_only

``username_key`` is filled from the existing names (casefold of NFKC). Two existing names that
fold to the same key keep working: the later one gets ``<key>#<id>`` so the migration never
fails on old data, and an admin can rename it.
"""
import unicodedata

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import core.db

revision = '0010_accounts_users'
down_revision = '0010_gate_claim_gate'
branch_labels = None
depends_on = None


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name or "").strip().casefold())


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', core.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', core.db.AwareDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('sessions_valid_after', core.db.AwareDateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    users = sa.table('users', sa.column('id', sa.String), sa.column('username', sa.String),
                     sa.column('created_at'), sa.column('username_key', sa.String))
    seen: set[str] = set()
    for uid, name in conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.created_at)).all():
        key = _key(name)
        if key in seen:
            key = f"{key[:31]}#{uid}"[:64]
        seen.add(key)
        conn.execute(users.update().where(users.c.id == uid).values(username_key=key))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('username_key', existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
                              nullable=False)
        batch_op.create_index(batch_op.f('ix_users_username_key'), ['username_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_username_key'))
        batch_op.drop_column('sessions_valid_after')
        batch_op.drop_column('display_name')
        batch_op.drop_column('username_key')
    op.drop_table('login_throttle')
