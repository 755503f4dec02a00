"""Where a request's time goes in the app itself, with no server and no network: each
operation sent through the WSGI app in this process, for ours (JSON engine) and the ceiling,
in µs per request; `--profile OP` prints cProfile's top functions for one of ours.

    .venv/bin/python bench/inprocess.py [--size 2000] [--requests 2000] [--profile legacy-list]
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from werkzeug.test import EnvironBuilder  # noqa: E402

from app import auth, create_app  # noqa: E402
from bench import ceiling  # noqa: E402
from bench.run import request  # noqa: E402

TENANT = "ab" * 16
OPS = ("legacy-list", "list", "get", "legacy-create", "create")  # of bench/run.py's


def filled(folder, size):
    """Our app on a JSON store of `size` datasets, its key and a dataset id."""
    app = create_app({"DB_PATH": os.path.join(folder, "db.json"),
                      "TENANT_DATASET_LIMIT": 10 ** 8})
    store = app.extensions["store"]
    key = auth.new_key()
    store.create_key(TENANT, "profile", auth.digest(key), 0)
    ids = [store.create_dataset(TENANT, {"name": f"ds{i}"}, i)["id"] for i in range(size)]
    store.compact()
    return app, key, ids[0]


def environs(op, key, dataset_id, count):
    """`count` requests of `op` as bench/run.py sends them, each create's name its own."""
    method, path, body, _ = request(op, 0, [dataset_id])
    return [EnvironBuilder(method=method, path=path.replace("{id}", dataset_id),
                           data=body.replace("{n}", str(n)) if body else None,
                           content_type="application/json" if body else None,
                           headers={"Authorization": f"Bearer {key}"}).get_environ()
            for n in range(count)]


def run(app, batch):
    def start_response(status, headers, exc_info=None):
        assert status.startswith("200"), status

    for environ in batch:
        b"".join(app(environ, start_response))


def timed(app, batch):
    """µs per request of `batch` (a tenth of it first, as a warm-up)."""
    run(app, batch[:len(batch) // 10])
    start = time.perf_counter()
    run(app, batch[len(batch) // 10:])
    return (time.perf_counter() - start) / (len(batch) - len(batch) // 10) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2000, help="datasets in the tenant")
    parser.add_argument("--requests", type=int, default=2000, help="per operation")
    parser.add_argument("--profile", choices=OPS, help="cProfile one of our operations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dataset-profile-") as folder:
        app, key, dataset_id = filled(folder, args.size)
        if args.profile:
            batch = environs(args.profile, key, dataset_id, args.requests)
            run(app, batch[:100])
            profile = cProfile.Profile()
            profile.runcall(run, app, batch[100:])
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
            return
        print(f"{args.size} datasets, {args.requests} requests each, µs per request")
        print(f"{'operation':15} {'ceiling':>8} {'ours':>8} {'ours/ceiling':>13}")
        for op in OPS:
            ours = timed(app, environs(op, key, dataset_id, args.requests))
            bare = timed(ceiling.app, environs(op, key, dataset_id, args.requests))
            print(f"{op:15} {bare:8.0f} {ours:8.0f} {ours / bare:13.2f}")


if __name__ == "__main__":
    main()
