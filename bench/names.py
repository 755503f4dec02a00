"""What a taken name costs a PostgreSQL create: `x` among x, x(1)... x(2000), against a fresh
name in a tenant of as many datasets.

    python -m bench.names [postgresql://...]   (default: a throwaway PostgreSQL 15 server)

Prints the median time of each create and their ratio. The database's tables are emptied.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import psycopg

from app.store.postgres import PostgresStore

BIN = "/usr/lib/postgresql/15/bin"
TAKEN = 2000  # x(1)... x(TAKEN) taken, and x
ROUNDS = 300


@contextmanager
def throwaway_server():
    """The URL of a PostgreSQL server in a folder of its own, removed after."""
    folder = tempfile.mkdtemp(prefix="bench-names-")
    data, socket_dir = os.path.join(folder, "data"), folder
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(folder, "postgres", "postgres")
    run = lambda *args: subprocess.run(prefix + list(args), check=True,  # noqa: E731
                                       capture_output=True, timeout=120)
    run(f"{BIN}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
    port = 20000 + os.getpid() % 10000
    run(f"{BIN}/pg_ctl", "-D", data, "-o", f"-p {port} -k {socket_dir} -c listen_addresses="
        f"127.0.0.1 -c synchronous_commit=on", "-l", os.path.join(folder, "log"), "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(f"{BIN}/pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


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
        with throwaway_server() as url:
            measure(url)


if __name__ == "__main__":
    main()
