"""The PostgreSQL engine's schema, versioned, and its upgrade at start."""

import logging

from psycopg.rows import tuple_row

from app.store import StoreError

log = logging.getLogger(__name__)
MIGRATIONS = [  # one entry per schema version; never edit one that has shipped
    """
    CREATE TABLE tenants (seq bigint GENERATED ALWAYS AS IDENTITY, id text PRIMARY KEY,
                          created bigint NOT NULL, datasets integer NOT NULL DEFAULT 0);
    CREATE TABLE keys (seq bigint GENERATED ALWAYS AS IDENTITY, id text PRIMARY KEY,
                       tenant text NOT NULL REFERENCES tenants (id), name text NOT NULL,
                       digest text NOT NULL UNIQUE, created bigint NOT NULL, last_used bigint);
    CREATE TABLE datasets (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                           tenant_id text NOT NULL REFERENCES tenants (id), id text NOT NULL UNIQUE,
                           name text NOT NULL, name_key text NOT NULL, fields jsonb NOT NULL,
                           create_time bigint NOT NULL, update_time bigint NOT NULL,
                           UNIQUE (tenant_id, name_key));
    CREATE INDEX datasets_by_create ON datasets (tenant_id, create_time, seq);
    CREATE INDEX datasets_by_update ON datasets (tenant_id, update_time, seq);
    CREATE INDEX datasets_by_name ON datasets (tenant_id, name_key COLLATE "C", seq);
    CREATE TABLE idempotency (tenant text NOT NULL, key text NOT NULL,
                              fingerprint text NOT NULL, created bigint NOT NULL,
                              dataset jsonb NOT NULL, PRIMARY KEY (tenant, key));
    CREATE INDEX idempotency_by_created ON idempotency (created);
    """,
]
MIGRATION_LOCK = 0x64617461  # the advisory lock held while the schema is upgraded
# For upgrades, `store export` and `store import`, which may rightly take minutes on a large
# store; requests keep the timeout that answers them before gunicorn's.
NO_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = 0"


def migrate(conn):
    """Bring the schema up to the last of MIGRATIONS, one server at a time."""
    encoding = conn.info.parameter_status("server_encoding")
    if encoding != "UTF8":  # names of any script, compared and ordered as the JSON file does
        raise StoreError(f"the database's encoding is {encoding}, not UTF8: make it with "
                         f"`createdb --encoding=UTF8 --locale=C.UTF-8 --template=template0`")
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        with conn.transaction():  # all of an upgrade, or none of it
            conn.execute(NO_STATEMENT_TIMEOUT)  # an upgrade of a large table may take minutes
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            row = conn.cursor(row_factory=tuple_row).execute(
                "SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > len(MIGRATIONS):
                raise StoreError(f"the database's schema (version {version}) is newer than "
                                 f"this server's ({len(MIGRATIONS)}): upgrade the server")
            for number, migration in enumerate(MIGRATIONS[version:], version + 1):
                conn.execute(migration)
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version VALUES (%s)", (number,))
                log.info("PostgreSQL schema upgraded to version %d", number)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        conn.commit()
