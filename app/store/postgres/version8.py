"""PostgreSQL schema version 8: an update that names no new name in one UPDATE."""

# Such an update (sql.CHANGE) no longer goes through a function that takes its row with
# SELECT ... FOR UPDATE and then writes it (a lock written to the row, then its new
# version): the UPDATE alone takes the row, and in READ COMMITTED computes its SET again on
# the row as it is once a concurrent change has committed, so the change is still merged
# into the record as it is under its lock. A rename still looks for a committed holder of
# the name first, as version 6's update_dataset did.
VERSION_8 = r"""
-- rules.patched's meaning: `fields_` set, `parser_config_` deep-merged into the stored
-- parser_config, or else `method_config_` the parser_config when the chunk_method changes.
CREATE OR REPLACE FUNCTION patched(old jsonb, fields_ jsonb, parser_config_ jsonb,
                                   method_config_ jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN parser_config_ IS NOT NULL AND parser_config_ <> '{}'
        THEN jsonb_set(old || fields_, '{parser_config}',
                       deep_merge(old -> 'parser_config', parser_config_))
        WHEN method_config_ IS NOT NULL
             AND (old || fields_) -> 'chunk_method' IS DISTINCT FROM old -> 'chunk_method'
        THEN jsonb_set(old || fields_, '{parser_config}', method_config_)
        ELSE old || fields_ END
$$;

-- A rename in one statement, under the row's lock: a name another of the tenant's datasets
-- has raises DA003. The row, or NULL. (An update that names no new name is sql.CHANGE.)
DROP FUNCTION IF EXISTS update_dataset(text, text, jsonb, text, text, jsonb, jsonb, bigint);
CREATE OR REPLACE FUNCTION rename_dataset(tenant_ text, id_ text, name_ text, key_ text,
                                          fields_ jsonb, parser_config_ jsonb,
                                          method_config_ jsonb, now_ bigint)
RETURNS datasets LANGUAGE plpgsql AS $$
DECLARE
    old datasets;
    made datasets;
BEGIN
    SELECT * INTO old FROM datasets d WHERE d.tenant_id = tenant_ AND d.id = id_ FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF EXISTS (SELECT FROM datasets d WHERE d.tenant_id || d.name_key = tenant_ || key_
                  AND d.id <> id_) THEN
        RAISE EXCEPTION 'the tenant has this name already' USING ERRCODE = 'DA003';
    END IF;
    UPDATE datasets d
        SET name = name_, name_key = key_, update_time = now_,
            fields = patched(old.fields, fields_, parser_config_, method_config_)
        WHERE d.seq = old.seq RETURNING * INTO made;
    RETURN made;
END $$;
"""
