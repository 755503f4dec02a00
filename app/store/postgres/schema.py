"""The PostgreSQL engine's schema, versioned, and its upgrade at start."""

import logging

from psycopg.rows import tuple_row

from app.store import StoreError
from app.store.postgres.connections import unbounded
from app.store.postgres.version6 import VERSION_6
from app.store.postgres.version7 import VERSION_7
from app.store.postgres.version8 import VERSION_8

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
    # A name of 1023 characters of 4 bytes each overflows a B-tree entry (2704 bytes at
    # most): uniqueness by a hash index instead (tenant ids are 32 characters, so the
    # concatenation is unambiguous), and order by a B-tree over the names' first characters.
    """
    ALTER TABLE datasets DROP CONSTRAINT datasets_tenant_id_name_key_key;
    DROP INDEX datasets_by_name;
    ALTER TABLE datasets ADD CONSTRAINT datasets_same_name
        EXCLUDE USING hash ((tenant_id || name_key) WITH =);
    CREATE INDEX datasets_by_name ON datasets (tenant_id, left(name_key, 200) COLLATE "C");
    """,
    # A create in one statement, so one round trip: under the tenant's row (which counts its
    # datasets), its expired Idempotency-Keys pruned and the key looked up, the limit
    # checked, the first free name of name, name(1), name(2)... (`key_` is the name's
    # rules.same_name; that of `name(n)` is key_ || '(n)'), the row and the key's entry
    # inserted; the record returned. A refusal raises, undoing all of it: SQLSTATE DA001
    # for the limit, DA002 for a key used with another request. (OR REPLACE: dropping the
    # tables, as to start over, leaves the functions.)
    """
    CREATE OR REPLACE FUNCTION create_dataset(tenant_ text, id_ text, name_ text, key_ text,
                                              fields_ jsonb, now_ bigint, limit_ integer,
                                              idempotency_ text, fingerprint_ text,
                                              expired_ bigint)
    RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE
        held integer;
        entry record;
        n integer := 0;
        free text := key_;
        made jsonb;
    BEGIN
        INSERT INTO tenants AS t (id, created, datasets) VALUES (tenant_, now_, 1)
            ON CONFLICT (id) DO UPDATE SET datasets = t.datasets + 1 RETURNING t.datasets
            INTO held;
        IF idempotency_ IS NOT NULL THEN
            DELETE FROM idempotency i WHERE i.tenant = tenant_ AND i.created <= expired_;
            SELECT i.fingerprint, i.dataset INTO entry FROM idempotency i
                WHERE i.tenant = tenant_ AND i.key = idempotency_;
            IF FOUND THEN
                IF entry.fingerprint <> fingerprint_ THEN
                    RAISE EXCEPTION 'Idempotency-Key used with another request'
                        USING ERRCODE = 'DA002';
                END IF;
                UPDATE tenants t SET datasets = t.datasets - 1 WHERE t.id = tenant_;
                RETURN entry.dataset;
            END IF;
        END IF;
        IF held > limit_ THEN
            RAISE EXCEPTION 'the tenant has its limit of datasets' USING ERRCODE = 'DA001';
        END IF;
        WHILE EXISTS (SELECT FROM datasets d WHERE d.tenant_id || d.name_key = tenant_ || free)
        LOOP
            n := n + 1;
            free := key_ || '(' || n || ')';
        END LOOP;
        made := fields_ || jsonb_build_object(
            'name', CASE n WHEN 0 THEN name_ ELSE name_ || '(' || n || ')' END, 'id', id_,
            'tenant_id', tenant_, 'created_by', tenant_, 'create_time', now_,
            'update_time', now_);
        INSERT INTO datasets (tenant_id, id, name, name_key, fields, create_time, update_time)
            VALUES (tenant_, id_, made->>'name', free, fields_, now_, now_);
        IF idempotency_ IS NOT NULL THEN
            INSERT INTO idempotency VALUES (tenant_, idempotency_, fingerprint_, now_, made);
        END IF;
        RETURN made;
    END $$;

    -- An update in one statement: under the tenant's row, the dataset's fields merged with
    -- `changes_`; a new name (NULL: none) that another of its datasets has raises DA003,
    -- or with `rename_taken_` becomes the first free name(n). The record, or NULL if the
    -- tenant has no such dataset.
    CREATE OR REPLACE FUNCTION update_dataset(tenant_ text, id_ text, changes_ jsonb,
                                              name_ text, key_ text, now_ bigint,
                                              rename_taken_ boolean)
    RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE
        old datasets;
        n integer := 0;
        free text := key_;
    BEGIN
        PERFORM FROM tenants t WHERE t.id = tenant_ FOR UPDATE;
        SELECT * INTO old FROM datasets d WHERE d.tenant_id = tenant_ AND d.id = id_;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        IF name_ IS NULL THEN
            name_ := old.name;
            free := old.name_key;
        ELSE
            WHILE EXISTS (SELECT FROM datasets d WHERE d.tenant_id || d.name_key = tenant_ || free
                          AND d.id <> id_)
            LOOP
                IF NOT rename_taken_ THEN
                    RAISE EXCEPTION 'the tenant has this name already' USING ERRCODE = 'DA003';
                END IF;
                n := n + 1;
                free := key_ || '(' || n || ')';
            END LOOP;
            name_ := CASE n WHEN 0 THEN name_ ELSE name_ || '(' || n || ')' END;
        END IF;
        UPDATE datasets d SET name = name_, name_key = free, fields = d.fields || changes_,
                              update_time = now_
            WHERE d.seq = old.seq;
        RETURN old.fields || changes_ || jsonb_build_object(
            'name', name_, 'id', id_, 'tenant_id', tenant_, 'created_by', tenant_,
            'create_time', old.create_time, 'update_time', now_);
    END $$;
    """,
    # A stamp on each tenant's row, new with every change of its datasets, in the change's
    # own transaction: a page of a list that a process keeps is good while the row still has
    # the stamp it was read with (PostgresStore.list_datasets). Creates, deletes and imports
    # update the row already (its count of datasets); an update of a dataset does it here.
    """
    ALTER TABLE tenants ADD COLUMN stamp uuid NOT NULL DEFAULT gen_random_uuid();
    CREATE OR REPLACE FUNCTION new_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.stamp := gen_random_uuid();
        RETURN NEW;
    END $$;
    CREATE TRIGGER tenants_stamp BEFORE UPDATE ON tenants
        FOR EACH ROW EXECUTE FUNCTION new_stamp();
    CREATE OR REPLACE FUNCTION dataset_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tenants t SET stamp = gen_random_uuid() WHERE t.id = NEW.tenant_id;
        RETURN NULL;
    END $$;
    CREATE TRIGGER datasets_stamp AFTER UPDATE ON datasets
        FOR EACH ROW EXECUTE FUNCTION dataset_updated();
    """,
    # A tenant's creates side by side: each counts its dataset in one of the tenant's 16
    # rows of `tenant_shards`, chosen at random, not in the tenant's row, so that creates
    # no longer wait for each other's commit. A tenant's count is its row's plus its
    # shards' (sql.TOTAL); its stamp, the stamp of its row (which updates and deletes
    # still take, and renew) with that count, which every create raises. The limit is
    # checked against what is committed plus one create under way in each other shard;
    # nearer the limit than that, a create raises DA004 and is sent again with `serial_`,
    # which takes all 16 shards first and so counts exactly, as does a create with an
    # Idempotency-Key. A create that meets its name taken by another create or a rename
    # under way waits for it, then tries the next name; a rename that does fails with an
    # exclusion violation, and is sent again.
    # The foreign key from datasets to tenants goes: it took a shared lock on the tenant's
    # row for every create, which creates side by side would have shared through a
    # MultiXact; a dataset's tenant row is made by the function that makes the dataset,
    # and nothing deletes a tenant.
    """
    CREATE TABLE tenant_shards (tenant text NOT NULL, shard integer NOT NULL,
                                datasets integer NOT NULL DEFAULT 0,
                                PRIMARY KEY (tenant, shard));
    INSERT INTO tenant_shards (tenant, shard) SELECT id, generate_series(0, 15) FROM tenants;
    ALTER TABLE datasets DROP CONSTRAINT datasets_tenant_id_fkey;
    DROP FUNCTION IF EXISTS create_dataset(text, text, text, text, jsonb, bigint, integer, text,
                                           text, bigint);

    CREATE OR REPLACE FUNCTION make_tenant(tenant_ text, now_ bigint) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO tenants (id, created) VALUES (tenant_, now_) ON CONFLICT (id) DO NOTHING;
        INSERT INTO tenant_shards (tenant, shard) SELECT tenant_, generate_series(0, 15)
            ON CONFLICT (tenant, shard) DO NOTHING;
    $$;

    CREATE OR REPLACE FUNCTION create_dataset(tenant_ text, id_ text, name_ text, key_ text,
                                              fields_ jsonb, now_ bigint, limit_ integer,
                                              idempotency_ text, fingerprint_ text,
                                              expired_ bigint, serial_ boolean)
    RETURNS jsonb LANGUAGE plpgsql AS $$
    DECLARE
        shard_ integer := floor(random() * 16);
        taken integer;
        held integer;
        entry record;
        n integer := 0;
        free text := key_;
        named text := name_;
        made jsonb;
    BEGIN
        IF serial_ THEN  -- all of the tenant's shards, in order (two takers never deadlock)
            PERFORM FROM tenant_shards s WHERE s.tenant = tenant_ ORDER BY s.shard FOR UPDATE;
            GET DIAGNOSTICS taken = ROW_COUNT;
            IF taken < 16 THEN  -- a tenant without its rows yet
                PERFORM make_tenant(tenant_, now_);
                PERFORM FROM tenant_shards s WHERE s.tenant = tenant_ ORDER BY s.shard
                    FOR UPDATE;
            END IF;
        END IF;
        IF idempotency_ IS NOT NULL THEN
            DELETE FROM idempotency i WHERE i.tenant = tenant_ AND i.created <= expired_;
            SELECT i.fingerprint, i.dataset INTO entry FROM idempotency i
                WHERE i.tenant = tenant_ AND i.key = idempotency_;
            IF FOUND THEN
                IF entry.fingerprint <> fingerprint_ THEN
                    RAISE EXCEPTION 'Idempotency-Key used with another request'
                        USING ERRCODE = 'DA002';
                END IF;
                RETURN entry.dataset;
            END IF;
        END IF;
        LOOP
            UPDATE tenant_shards s SET datasets = s.datasets + 1
                WHERE s.tenant = tenant_ AND s.shard = shard_;
            EXIT WHEN FOUND;
            PERFORM make_tenant(tenant_, now_);
        END LOOP;
        -- Each statement sees what was committed before it began: the shard's wait is over.
        SELECT t.datasets + (SELECT sum(s.datasets) FROM tenant_shards s WHERE s.tenant = t.id)
            INTO held FROM tenants t WHERE t.id = tenant_;
        IF held > limit_ THEN
            RAISE EXCEPTION 'the tenant has its limit of datasets' USING ERRCODE = 'DA001';
        END IF;
        IF NOT serial_ AND held + 15 > limit_ THEN
            RAISE EXCEPTION 'near the limit: send again with serial_' USING ERRCODE = 'DA004';
        END IF;
        LOOP  -- the first free name; one taken by a create or rename under way is waited for
            INSERT INTO datasets (tenant_id, id, name, name_key, fields, create_time,
                                  update_time)
                VALUES (tenant_, id_, named, free, fields_, now_, now_)
                ON CONFLICT DO NOTHING;
            EXIT WHEN FOUND;
            n := n + 1;
            free := key_ || '(' || n || ')';
            named := name_ || '(' || n || ')';
        END LOOP;
        made := fields_ || jsonb_build_object('name', named, 'id', id_, 'tenant_id', tenant_,
                                              'created_by', tenant_, 'create_time', now_,
                                              'update_time', now_);
        IF idempotency_ IS NOT NULL THEN
            INSERT INTO idempotency VALUES (tenant_, idempotency_, fingerprint_, now_, made);
        END IF;
        RETURN made;
    END $$;
    """,
    VERSION_6,
    VERSION_7,
    VERSION_8,
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
    if version_of(conn) == len(MIGRATIONS):
        return  # within the connection's deadline: a server that starts mostly finds this
    with unbounded(conn):  # waiting for another server's upgrade, or doing one, takes time
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            with conn.transaction():  # all of an upgrade, or none of it
                conn.execute(NO_STATEMENT_TIMEOUT)
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer"
                             " NOT NULL)")
                version = version_of(conn)
                if version > len(MIGRATIONS):
                    raise StoreError(f"the database's schema (version {version}) is newer "
                                     f"than this server's ({len(MIGRATIONS)}): upgrade the "
                                     f"server")
                for number, migration in enumerate(MIGRATIONS[version:], version + 1):
                    conn.execute(migration)
                    conn.execute("DELETE FROM schema_version")
                    conn.execute("INSERT INTO schema_version VALUES (%s)", (number,))
                    log.info("PostgreSQL schema upgraded to version %d", number)
        finally:
            conn.commit()  # before the unlock: the next server must see the upgrade done
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            conn.commit()


def version_of(conn):
    """The schema version of the database (0: none yet)."""
    cur = conn.cursor(row_factory=tuple_row)
    if not cur.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]:
        return 0
    row = cur.execute("SELECT version FROM schema_version").fetchone()
    return row[0] if row else 0
