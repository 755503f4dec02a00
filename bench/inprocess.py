"""Where a request's time goes in the app itself, with no HTTP server: each operation sent
through the WSGI app in this process, ours against the ceiling (JSON engine) or against the
psycopg peer (`--engine postgres`, on a throwaway PostgreSQL server), in µs per request of
wall time and of this process's CPU (on PostgreSQL the difference is the server's part and
the round trips), medians of rounds that alternate the two; `--profile OP` prints
cProfile's top functions for one of ours; `--steps OP` counts the Python bytecode
instructions and calls of one request of OP, ours and the other, by module: a measure of the
interpreter's work that does not move with the machine's load.

    .venv/bin/python bench/inprocess.py [--engine postgres] [--size 2000] [--requests 2000]
                                        [--rounds 3] [--profile update] [--steps update]
"""

import argparse
import collections
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from werkzeug.test import EnvironBuilder  # noqa: E402

from app import auth, create_app  # noqa: E402
from bench import ceiling, peer_postgres  # noqa: E402
from bench.run import request  # noqa: E402
from harness import pgserver  # noqa: E402

TENANT = "ab" * 16
OPS = ("legacy-list", "list", "get", "legacy-create", "create", "update")  # of bench/run.py's


def filled(config, size):
    """Our app on a new store with `size` datasets, its key and a dataset id."""
    app = create_app({**config, "TENANT_DATASET_LIMIT": 10 ** 8})
    store = app.extensions["store"]
    key = auth.new_key()
    store.create_key(TENANT, "profile", auth.digest(key), 0)
    ids = [store.create_dataset(TENANT, {"name": f"ds{i}"}, i)["id"] for i in range(size)]
    store.compact()
    return app, key, ids[0]


def environs(op, key, dataset_id, count, first=0):
    """`count` requests of `op` as bench/run.py sends them, each create's name its own."""
    method, path, body, _ = request(op, 0, [dataset_id])
    return [EnvironBuilder(method=method, path=path.replace("{id}", dataset_id),
                           data=body.replace("{n}", str(n)) if body else None,
                           content_type="application/json" if body else None,
                           headers={"Authorization": f"Bearer {key}"}).get_environ()
            for n in range(first, first + count)]


def run(app, batch):
    def start_response(status, headers, exc_info=None):
        assert status.startswith("200"), status

    for environ in batch:
        b"".join(app(environ, start_response))


def timed(app, batch):
    """(wall, CPU) µs per request of `batch` (a tenth of it first, as a warm-up)."""
    run(app, batch[:len(batch) // 10])
    wall, cpu = time.perf_counter(), time.process_time()
    run(app, batch[len(batch) // 10:])
    count = len(batch) - len(batch) // 10
    return ((time.perf_counter() - wall) / count * 1e6,
            (time.process_time() - cpu) / count * 1e6)


def steps(app, batch):
    """(instructions, calls) per request of `batch`, as Counters by module."""
    instructions, calls = collections.Counter(), collections.Counter()

    def module(frame):
        path = frame.f_code.co_filename
        for root in ("site-packages/", ROOT + "/", os.path.dirname(os.__file__) + "/"):
            path = path.split(root)[-1]
        return path if path.startswith(("app/", "bench/")) else path.split("/")[0]

    def traced(frame, event, arg):
        frame.f_trace_opcodes = True
        where = module(frame)
        calls[where] += 1

        def each(frame, event, arg):
            if event == "opcode":
                instructions[where] += 1
            return each
        return each

    sys.settrace(traced)
    try:
        run(app, batch)
    finally:
        sys.settrace(None)
    for counter in (instructions, calls):
        for where in counter:
            counter[where] /= len(batch)
    return instructions, calls


def count_steps(ours, other, other_name, key, dataset_id, args):
    batch = 200
    counted = {}
    for name, app, first in (("ours", ours, 0), (other_name, other, 10 ** 6)):
        warm, measured = (environs(args.steps, key, dataset_id, n, first + skip)
                          for n, skip in ((50, 0), (batch, 50)))
        run(app, warm)
        counted[name] = steps(app, measured)
    print(f"{args.steps}: Python bytecode instructions (and calls) per request, by module")
    (ours_i, ours_c), (other_i, other_c) = counted["ours"], counted[other_name]
    for where in sorted(ours_i.keys() | other_i.keys(),
                        key=lambda w: -max(ours_i[w], other_i[w]))[:25]:
        print(f"  {where:40} ours {ours_i[where]:7.0f} ({ours_c[where]:5.0f})   "
              f"{other_name} {other_i[where]:7.0f} ({other_c[where]:5.0f})")
    print(f"  {'all':40} ours {sum(ours_i.values()):7.0f} ({sum(ours_c.values()):5.0f})   "
          f"{other_name} {sum(other_i.values()):7.0f} ({sum(other_c.values()):5.0f})")


def compare(ours, other, other_name, key, dataset_id, args):
    print(f"{args.size} datasets, {args.requests} requests each, {args.rounds} rounds, "
          f"µs per request (medians)")
    print(f"{'operation':15} {other_name + ' wall/cpu':>18} {'ours wall/cpu':>15} "
          f"{'ours/' + other_name + ' by cpu':>20}")
    for op in OPS:
        times = {"ours": [], "other": []}
        for n in range(args.rounds):
            first = n * 2 * args.requests  # each create's name new in every round
            times["ours"].append(timed(ours, environs(op, key, dataset_id, args.requests,
                                                      first)))
            times["other"].append(timed(other, environs(op, key, dataset_id, args.requests,
                                                        first + args.requests)))
        (ow, oc), (bw, bc) = ([statistics.median(t[i] for t in times[who]) for i in (0, 1)]
                              for who in ("ours", "other"))
        print(f"{op:15} {bw:9.0f}/{bc:<8.0f} {ow:7.0f}/{oc:<7.0f} {oc / bc:20.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("json", "postgres"), default="json")
    parser.add_argument("--size", type=int, default=2000, help="datasets in the tenant")
    parser.add_argument("--requests", type=int, default=2000, help="per operation and round")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of ours and the other")
    parser.add_argument("--profile", choices=OPS, help="cProfile one of our operations")
    parser.add_argument("--steps", choices=OPS, help="count one operation's Python steps")
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory(prefix="dataset-profile-") as folder:
        try:
            if args.engine == "postgres":
                if not pgserver.available():
                    sys.exit(pgserver.HOW)
                server = pgserver.Server()
                for name in ("ours", "peer"):
                    pgserver.create_database(server.url(), name)
                app, key, dataset_id = filled({"DATABASE_URL": server.url("ours")}, args.size)
                peer_postgres.fill(server.url("peer"), app.extensions["store"].export()
                                   ["datasets"], {key: TENANT})
                os.environ["BENCH_PEER_DATABASE_URL"] = server.url("peer")
                other, other_name = peer_postgres.app, "peer"
            else:
                app, key, dataset_id = filled({"DB_PATH": os.path.join(folder, "db.json")},
                                              args.size)
                other, other_name = ceiling.app, "ceiling"
            if args.profile:
                batch = environs(args.profile, key, dataset_id, args.requests)
                run(app, batch[:100])
                profile = cProfile.Profile()
                profile.runcall(run, app, batch[100:])
                pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
                return
            if args.steps:
                count_steps(app, other, other_name, key, dataset_id, args)
                return
            compare(app, other, other_name, key, dataset_id, args)
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
