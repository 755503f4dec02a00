"""PostgreSQL schema version 7: documents, their chunks and their bytes."""

# A document belongs to a dataset and goes with it; its chunks go with it. What is filtered,
# ordered, counted or claimed by is a column (documents.COLUMNS), the rest of its fields a
# jsonb `fields`, as for datasets. Names are unique per dataset, byte for byte (claimed under
# the dataset's row: the index is the safety net, and finds `stem…` names for free_name).
# Bytes are pieces of documents.PIECE bytes in `files`, each its own row, stored as they are
# (most files are compressed already); `created` is the database's clock, which `collect`
# reads too, so hosts whose clocks differ agree on a file's age.
VERSION_7 = r"""
CREATE TABLE documents (
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE, id text PRIMARY KEY,
    tenant_id text NOT NULL,
    dataset_id text NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    name text NOT NULL, name_key text NOT NULL, location text, size bigint NOT NULL,
    suffix text NOT NULL, run text NOT NULL, process_begin_at bigint,
    chunk_count integer NOT NULL, token_count bigint NOT NULL,
    claim text, claimed_until bigint NOT NULL, attempts integer NOT NULL,
    fields jsonb NOT NULL, create_time bigint NOT NULL, update_time bigint NOT NULL);
CREATE UNIQUE INDEX documents_same_name ON documents (dataset_id, name text_pattern_ops);
CREATE INDEX documents_by_create ON documents (dataset_id, create_time, seq);
CREATE INDEX documents_by_tenant ON documents (tenant_id, size);
CREATE INDEX documents_by_location ON documents (location);
CREATE INDEX documents_queue ON documents (process_begin_at, seq) WHERE run = '1';

CREATE TABLE chunks (
    id text PRIMARY KEY,
    document_id text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    position integer NOT NULL, content text NOT NULL, token_count integer NOT NULL,
    available boolean NOT NULL, fields jsonb NOT NULL, create_time bigint NOT NULL);
CREATE INDEX chunks_by_document ON chunks (document_id, position);

CREATE TABLE files (
    location text NOT NULL, piece integer NOT NULL, tenant text NOT NULL,
    data bytea NOT NULL,
    created bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    PRIMARY KEY (location, piece));
ALTER TABLE files ALTER COLUMN data SET STORAGE EXTERNAL;
"""
