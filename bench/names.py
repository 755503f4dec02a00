"""What a taken name costs a PostgreSQL create: `x` among x, x(1)... x(2000), against a fresh
name in a tenant of as many datasets.

    python -m bench.names [postgresql://...]   (default: a throwaway PostgreSQL 15 server)

Prints the median time of each create and their ratio. The database's tables are emptied.
"""

import statistics
import sys
import time

import psycopg

from app.store.postgres import PostgresStore
from harness import pgserver

TAKEN = 2000  # x(1)... x(TAKEN) taken, and x
ROUNDS = 300


def timed(work):
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def measure(url):
    store = PostgresStore(url, {"TENANT_DATASET_LIMIT": 10**6, "LOCK_TIMEOUT": 10})
    store.health()  # the schema made
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE idempotency, datasets, keys, tenants")
    taken, fresh = "a" * 32, "b" * 32
    for n in range(TAKEN + 1):
        store.create_dataset(taken, {"name": "x"}, n)
        store.create_dataset(fresh, {"name": f"kb{n}"}, n)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE datasets")
    times = {"fresh name": [], f"x among {TAKEN + 1} taken": []}
    for n in range(ROUNDS):
        times["fresh name"].append(timed(
            lambda: store.create_dataset(fresh, {"name": f"new{n}"}, n)))
        made = []
        times[f"x among {TAKEN + 1} taken"].append(timed(
            lambda: made.append(store.create_dataset(taken, {"name": "x"}, n))))
        assert made[0]["name"] == f"x({TAKEN + 1})", made
        store.delete_datasets(taken, [made[0]["id"]])
    store.close()
    medians = {what: statistics.median(spent) * 1000 for what, spent in times.items()}
    for what, ms in medians.items():
        print(f"create, {what}: {ms:.3f} ms (median of {ROUNDS})")
    fresh_ms, taken_ms = medians.values()
    print(f"ratio: {taken_ms / fresh_ms:.2f}")


def main():
    if len(sys.argv) > 1:
        measure(sys.argv[1])
    else:
        server = pgserver.Server()
        try:
            measure(server.url())
        finally:
            server.stop()


if __name__ == "__main__":
    main()
