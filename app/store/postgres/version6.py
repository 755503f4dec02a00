"""PostgreSQL schema version 6 (the last of schema.MIGRATIONS)."""

# One count per tenant, names claimed through an index, a change merged into the row as it
# is, Idempotency-Keys naming their dataset.

# The shards, the stamp and the resend go: a tenant's creates take its row again (counting
# there, with the foreign key back, as version 3 did). Each name_key is parsed as
# rules.suffixed parses it, `base(n)` into name_base and name_n, so that a taken name's first
# free name(n) is found by one range scan of an index; name_base keeps the first 500
# characters of the base only, since 1023 characters of 4 bytes would overflow a B-tree
# entry (a longer base is checked against each row's name_key).
VERSION_6 = r"""
DROP FUNCTION IF EXISTS create_dataset(text, text, text, text, jsonb, bigint, integer, text,
                                       text, bigint, boolean);
DROP FUNCTION IF EXISTS update_dataset(text, text, jsonb, text, text, bigint, boolean);
DROP FUNCTION IF EXISTS make_tenant(text, bigint);
DROP TRIGGER IF EXISTS datasets_stamp ON datasets;
DROP TRIGGER IF EXISTS tenants_stamp ON tenants;
DROP FUNCTION IF EXISTS dataset_updated();
DROP FUNCTION IF EXISTS new_stamp();
ALTER TABLE tenants DROP COLUMN IF EXISTS stamp;
DROP TABLE IF EXISTS tenant_shards;

INSERT INTO tenants (id, created)
    SELECT tenant_id, min(create_time) FROM datasets GROUP BY tenant_id
    ON CONFLICT (id) DO NOTHING;
UPDATE tenants t SET datasets = (SELECT count(*) FROM datasets d WHERE d.tenant_id = t.id);
ALTER TABLE datasets DROP CONSTRAINT IF EXISTS datasets_tenant_id_fkey;
ALTER TABLE datasets ADD CONSTRAINT datasets_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants (id);

ALTER TABLE datasets
    ADD COLUMN name_base text GENERATED ALWAYS AS (left(coalesce(
        (regexp_match(name_key, '^(.*)\(([1-9][0-9]{0,17})\)$'))[1], name_key), 500)) STORED,
    ADD COLUMN name_n bigint GENERATED ALWAYS AS (coalesce(
        (regexp_match(name_key, '^(.*)\(([1-9][0-9]{0,17})\)$'))[2]::bigint, 0)) STORED;
CREATE INDEX datasets_by_suffix ON datasets (tenant_id, name_base, name_n) WHERE name_n > 0;

-- An entry names the dataset it made; `remembered` counts a tenant's entries, for the cap.
ALTER TABLE idempotency ADD COLUMN dataset_id text;
UPDATE idempotency SET dataset_id = dataset->>'id';
ALTER TABLE idempotency ALTER COLUMN dataset_id SET NOT NULL, DROP COLUMN dataset;
DROP INDEX IF EXISTS idempotency_by_created;
CREATE INDEX idempotency_by_tenant ON idempotency (tenant, created);
ALTER TABLE tenants ADD COLUMN remembered integer NOT NULL DEFAULT 0;
UPDATE tenants t SET remembered = (SELECT count(*) FROM idempotency i WHERE i.tenant = t.id);

-- rules.deep_merge: objects merged key by key, recursively; anything else replaced.
CREATE OR REPLACE FUNCTION deep_merge(base jsonb, over jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN base || coalesce((
        SELECT jsonb_object_agg(o.key, CASE
            WHEN jsonb_typeof(o.value) = 'object' AND jsonb_typeof(base -> o.key) = 'object'
            THEN deep_merge(base -> o.key, o.value) ELSE o.value END)
        FROM jsonb_each(over) o), '{}');
END $$;

-- A create in one statement: the tenant's row taken (its count raised, the limit checked:
-- DA001), its Idempotency-Key's entry replayed (the dataset as it is now; DA002 for another
-- body, DA005 if deleted since) or added (the tenant's oldest dropped past `most_`), the
-- first free name of name, name(1)... claimed. The row made.
CREATE OR REPLACE FUNCTION create_dataset(tenant_ text, id_ text, name_ text, key_ text,
                                          fields_ jsonb, now_ bigint, limit_ integer,
                                          idempotency_ text, fingerprint_ text,
                                          expired_ bigint, most_ integer)
RETURNS datasets LANGUAGE plpgsql AS $$
DECLARE
    held integer;
    pruned integer := 0;
    kept integer;
    entry record;
    n bigint;
    free text := key_;
    named text := name_;
    made datasets;
BEGIN
    INSERT INTO tenants AS t (id, created, datasets) VALUES (tenant_, now_, 1)
        ON CONFLICT (id) DO UPDATE SET datasets = t.datasets + 1 RETURNING t.datasets
        INTO held;
    IF idempotency_ IS NOT NULL THEN
        DELETE FROM idempotency i WHERE i.tenant = tenant_ AND i.created < expired_;
        GET DIAGNOSTICS pruned = ROW_COUNT;
        SELECT i.fingerprint, i.dataset_id INTO entry FROM idempotency i
            WHERE i.tenant = tenant_ AND i.key = idempotency_;
        IF FOUND THEN
            IF entry.fingerprint <> fingerprint_ THEN
                RAISE EXCEPTION 'Idempotency-Key used with another request'
                    USING ERRCODE = 'DA002';
            END IF;
            SELECT * INTO made FROM datasets d
                WHERE d.tenant_id = tenant_ AND d.id = entry.dataset_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION '%', entry.dataset_id USING ERRCODE = 'DA005';
            END IF;
            UPDATE tenants t SET datasets = t.datasets - 1, remembered = t.remembered - pruned
                WHERE t.id = tenant_;
            RETURN made;
        END IF;
    END IF;
    IF held > limit_ THEN
        RAISE EXCEPTION 'the tenant has its limit of datasets' USING ERRCODE = 'DA001';
    END IF;
    LOOP  -- a name claimed by a rename under way is waited for, then looked for again
        INSERT INTO datasets (tenant_id, id, name, name_key, fields, create_time,
                              update_time)
            VALUES (tenant_, id_, named, free, fields_, now_, now_)
            ON CONFLICT DO NOTHING RETURNING * INTO made;
        EXIT WHEN FOUND;
        -- The first free n >= 1 of name(n): one range scan of datasets_by_suffix, in
        -- order, to the first gap (or past the last), from the index alone while the base
        -- is all in it (plpgsql keeps each plan; a SQL function would plan every call).
        IF length(key_) < 500 THEN
            SELECT coalesce((
                SELECT s.prev + 1 FROM (
                    SELECT d.name_n AS n, lag(d.name_n, 1, 0::bigint) OVER (ORDER BY d.name_n)
                        AS prev
                    FROM datasets d
                    WHERE d.tenant_id = tenant_ AND d.name_base = key_ AND d.name_n > 0) s
                WHERE s.prev <> s.n - 1 ORDER BY s.n LIMIT 1), (
                SELECT max(d.name_n) + 1 FROM datasets d
                    WHERE d.tenant_id = tenant_ AND d.name_base = key_ AND d.name_n > 0), 1)
                INTO n;
        ELSE  -- the same, each entry's whole name checked in its row
            SELECT coalesce((
                SELECT s.prev + 1 FROM (
                    SELECT d.name_n AS n, lag(d.name_n, 1, 0::bigint) OVER (ORDER BY d.name_n)
                        AS prev
                    FROM datasets d
                    WHERE d.tenant_id = tenant_ AND d.name_base = left(key_, 500)
                        AND d.name_n > 0 AND d.name_key = key_ || '(' || d.name_n || ')') s
                WHERE s.prev <> s.n - 1 ORDER BY s.n LIMIT 1), (
                SELECT max(d.name_n) + 1 FROM datasets d
                    WHERE d.tenant_id = tenant_ AND d.name_base = left(key_, 500)
                        AND d.name_n > 0 AND d.name_key = key_ || '(' || d.name_n || ')'), 1)
                INTO n;
        END IF;
        free := key_ || '(' || n || ')';
        named := name_ || '(' || n || ')';
    END LOOP;
    IF idempotency_ IS NOT NULL THEN
        INSERT INTO idempotency (tenant, key, fingerprint, created, dataset_id)
            VALUES (tenant_, idempotency_, fingerprint_, now_, id_);
        UPDATE tenants t SET remembered = t.remembered + 1 - pruned WHERE t.id = tenant_
            RETURNING t.remembered INTO kept;
        IF kept > most_ THEN
            DELETE FROM idempotency i WHERE (i.tenant, i.key) IN (
                SELECT o.tenant, o.key FROM idempotency o
                WHERE o.tenant = tenant_ AND o.key <> idempotency_
                ORDER BY o.created, o.key LIMIT kept - most_);
            UPDATE tenants t SET remembered = most_ WHERE t.id = tenant_;
        END IF;
    END IF;
    RETURN made;
END $$;

-- An update in one statement, rules.patched's meaning applied to the row as it is under
-- its lock: `fields_` set, `parser_config_` deep-merged into the stored parser_config, or
-- else `method_config_` the parser_config when the chunk_method changes; a new name
-- (NULL: none) that another of the tenant's datasets has raises DA003. The row, or NULL.
CREATE OR REPLACE FUNCTION update_dataset(tenant_ text, id_ text, fields_ jsonb, name_ text,
                                          key_ text, parser_config_ jsonb,
                                          method_config_ jsonb, now_ bigint)
RETURNS datasets LANGUAGE plpgsql AS $$
DECLARE
    old datasets;
    changed jsonb;
    made datasets;
BEGIN
    SELECT * INTO old FROM datasets d WHERE d.tenant_id = tenant_ AND d.id = id_ FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    changed := old.fields || fields_;
    IF parser_config_ IS NOT NULL AND parser_config_ <> '{}' THEN
        changed := jsonb_set(changed, '{parser_config}',
                         deep_merge(old.fields -> 'parser_config', parser_config_));
    ELSIF method_config_ IS NOT NULL
            AND changed -> 'chunk_method' IS DISTINCT FROM old.fields -> 'chunk_method' THEN
        changed := jsonb_set(changed, '{parser_config}', method_config_);
    END IF;
    IF name_ IS NULL THEN
        name_ := old.name;
        key_ := old.name_key;
    ELSIF EXISTS (SELECT FROM datasets d WHERE d.tenant_id || d.name_key = tenant_ || key_
                  AND d.id <> id_) THEN
        RAISE EXCEPTION 'the tenant has this name already' USING ERRCODE = 'DA003';
    END IF;
    UPDATE datasets d SET name = name_, name_key = key_, fields = changed, update_time = now_
        WHERE d.seq = old.seq RETURNING * INTO made;
    RETURN made;
END $$;
"""
