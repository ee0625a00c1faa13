"""procrastinate's schema (PostgreSQL only): the job delivery of ``core.pq``

Applies the schema SQL shipped with the installed procrastinate (``SchemaManager.get_schema``),
so the tables, types, functions and triggers are exactly the ones its workers expect. SQLite
has no procrastinate: nothing to do there. A later procrastinate release that changes its
schema ships migration SQL files; apply them in a new migration of ours.

Revision ID: 0015_pq_procrastinate
Revises: 0013_queue_jobs
"""
from alembic import op

revision = '0015_pq_procrastinate'
down_revision = '0013_queue_jobs'  # the file 0014_queue_jobs.py; its revision id is 0013_queue_jobs
branch_labels = None
depends_on = None

_TABLES = ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs",
           "procrastinate_workers")
_TYPES = ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status")


def _raw_execute(sql: str) -> None:
    """Run a multi-statement script as is: through the DBAPI cursor without parameters, so
    neither SQLAlchemy (``:name``) nor psycopg (``%``) reads placeholders into it."""
    cursor = op.get_bind().connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    _raw_execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _raw_execute("DROP TABLE IF EXISTS " + ", ".join(_TABLES) + " CASCADE;")
    _raw_execute("""
        DO $$
        DECLARE f record;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE p.proname LIKE 'procrastinate\\_%' AND n.nspname = current_schema()
            LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || f.sig || ' CASCADE';
            END LOOP;
        END;
        $$;""")
    _raw_execute("DROP TYPE IF EXISTS " + ", ".join(_TYPES) + " CASCADE;")
