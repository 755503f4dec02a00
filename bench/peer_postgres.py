"""The PostgreSQL peer: both APIs on psycopg 3, a pool per worker.

Names are unique per tenant by a unique index over the folded name: a create inserts with
ON CONFLICT DO NOTHING and tries `name(1)`, `name(2)`... while the name is taken. A create
counts its dataset in the tenant's row and checks the limit there, in its own transaction,
as the service does; other statements are each their own transaction (autocommit)."""

import itertools
import os

import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

from bench import peer, shapes

LIMIT = int(os.environ.get("DATASET_API_TENANT_DATASET_LIMIT", 100_000))
SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (id text PRIMARY KEY, datasets integer NOT NULL);
CREATE TABLE IF NOT EXISTS keys (digest text PRIMARY KEY, id text NOT NULL, tenant text NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- creation order: breaks ties
    id text NOT NULL UNIQUE, tenant text NOT NULL, name text NOT NULL, folded text NOT NULL,
    avatar text, description text, embedding_model text, permission text NOT NULL,
    chunk_method text NOT NULL, parser_config jsonb NOT NULL, pagerank integer NOT NULL,
    language text NOT NULL, similarity_threshold double precision NOT NULL,
    vector_similarity_weight double precision NOT NULL, status text NOT NULL,
    document_count integer NOT NULL, chunk_count integer NOT NULL, token_num integer NOT NULL,
    create_time bigint NOT NULL, update_time bigint NOT NULL, UNIQUE (tenant, folded));
CREATE INDEX IF NOT EXISTS datasets_create ON datasets (tenant, create_time, seq);
CREATE INDEX IF NOT EXISTS datasets_update ON datasets (tenant, update_time, seq);
"""
COLUMNS = ", ".join(shapes.COLUMNS)
INSERT = (f"INSERT INTO datasets (folded, {COLUMNS})"
          f" VALUES ({', '.join(['%s'] * (len(shapes.COLUMNS) + 1))})")
ORDER_COLUMNS = {"create_time": "create_time", "update_time": "update_time",
                 "name": 'folded COLLATE "C"'}
set_json_loads(orjson.loads)  # the faster parser, as the service uses
set_json_dumps(orjson.dumps)


def values(row):
    """A row's INSERT parameters: its folded name, then its columns."""
    return (row["name"].casefold(), *(Jsonb(row[c]) if c == "parser_config" else row[c]
                                      for c in shapes.COLUMNS))


class Database:
    """One worker's pool; a sync worker serves one request at a time, so it stays small."""

    def __init__(self, url):
        self.pool = ConnectionPool(url, min_size=1, max_size=2, open=True,
                                   kwargs={"autocommit": True,
                                           "row_factory": psycopg.rows.dict_row})

    def one(self, sql, params):
        with self.pool.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def tenant(self, digest):
        row = self.one("SELECT tenant FROM keys WHERE digest = %s", (digest,))
        return row and row["tenant"]

    def create(self, tenant, dataset_id, fields, now):
        row = {**fields, "id": dataset_id, "tenant": tenant, "create_time": now,
               "update_time": now}
        with self.pool.connection() as conn, conn.transaction():
            held = conn.execute("INSERT INTO tenants VALUES (%s, 1) ON CONFLICT (id) DO UPDATE"
                                " SET datasets = tenants.datasets + 1 RETURNING datasets",
                                (tenant,)).fetchone()["datasets"]
            if held > LIMIT:
                raise peer.Refused(200, 102, f"This tenant has reached its limit of {LIMIT} "
                                             f"datasets; delete some to make more.")
            for n in itertools.count():  # name, name(1), name(2)... until one is free
                row["name"] = fields["name"] + (f"({n})" if n else "")
                if conn.execute(INSERT + " ON CONFLICT (tenant, folded) DO NOTHING RETURNING seq",
                                values(row)).fetchone():
                    return row

    def list(self, tenant, orderby, desc, offset, limit, name=None, dataset_id=None,
             total=False):
        where, params = peer.where("%s", tenant, name, dataset_id)
        order = "DESC" if desc else "ASC"
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM datasets{where}"
                f" ORDER BY {ORDER_COLUMNS[orderby]} {order}, seq {order} LIMIT %s OFFSET %s",
                params + [limit, offset]).fetchall()
            if total:
                total = conn.execute(f"SELECT count(*) AS n FROM datasets{where}",
                                     params).fetchone()["n"]
        return rows, total

    def get(self, tenant, dataset_id):
        return self.one(f"SELECT {COLUMNS} FROM datasets WHERE tenant = %s AND id = %s",
                        (tenant, dataset_id))

    def update(self, tenant, dataset_id, changes, now):
        sets, params = peer.assignments("%s", changes, now)
        try:
            return self.one(f"UPDATE datasets SET {sets} WHERE tenant = %s AND id = %s"
                            f" RETURNING {COLUMNS}",
                            params + [tenant, dataset_id])
        except psycopg.errors.UniqueViolation:
            raise peer.Refused(200, 102, f"Dataset name '{changes['name']}' already exists")

    def delete(self, tenant, dataset_id):
        with self.pool.connection() as conn, conn.transaction():
            if not conn.execute("DELETE FROM datasets WHERE tenant = %s AND id = %s",
                                (tenant, dataset_id)).rowcount:
                return False
            conn.execute("UPDATE tenants SET datasets = datasets - 1 WHERE id = %s", (tenant,))
            return True


def fill(url, datasets, keys):
    """Make the database at `url`: `datasets` as `store export` lists them, `keys` maps key to
    tenant; rows copied in, indexes built after."""
    with psycopg.connect(url) as conn:
        schema = SCHEMA.split("CREATE INDEX", 1)
        conn.execute(schema[0])
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO keys VALUES (%s, %s, %s)",
                            [(peer.digest(key), os.urandom(16).hex(), tenant)
                             for key, tenant in keys.items()])
            with cur.copy(f"COPY datasets (folded, {COLUMNS}) FROM STDIN") as copy:
                for d in datasets:
                    copy.write_row(values({**d, "tenant": d["tenant_id"]}))
            cur.execute("INSERT INTO tenants SELECT tenant, count(*) FROM datasets GROUP BY tenant"
                        " UNION SELECT tenant, 0 FROM keys WHERE tenant NOT IN"
                        " (SELECT tenant FROM datasets)")
        conn.execute("CREATE INDEX" + schema[1])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE datasets")


app = peer.make_app(__name__, lambda: Database(os.environ["BENCH_PEER_DATABASE_URL"]))
