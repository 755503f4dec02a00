"""Benchmark the service on both engines and both APIs against a ceiling and two peers with
wrk: `make bench`, or `.venv/bin/python bench/run.py --quick` for a first look."""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench import report, systems  # noqa: E402
from harness import pgserver  # noqa: E402

LUA = os.path.join(ROOT, "bench", "load.lua")
# name: (method, path, body, how a success's body starts), in the order runs go: reads before
# writes. A path's {deep} and {page} are the offset and page of the tenant's oldest datasets;
# {id} and a body's {n} are filled in by load.lua, a body's {run} with the run's number.
OPS = {
    "legacy-list": ("GET", "/api/v1/dataset?count=20", "", '{"code":102,'),
    "list": ("GET", "/api/v1/datasets?page_size=30", "", '{"code":0,'),
    "get": ("GET", "/api/v1/datasets/{id}", "", '{"code":0,'),
    "legacy-deep": ("GET", "/api/v1/dataset?offset={deep}&count=20", "", '{"code":102,'),
    "deep": ("GET", "/api/v1/datasets?page={page}&page_size=30", "", '{"code":0,'),
    "legacy-create": ("POST", "/api/v1/dataset", '{"name": "b{run}-{n}"}', '{"code":0,'),
    "create": ("POST", "/api/v1/datasets", '{"name": "c{run}-{n}"}', '{"code":0,'),
    "update": ("PUT", "/api/v1/datasets/{id}", '{"description": "d{run}-{n}"}', '{"code":0,'),
}
ENGINES = {"json": ("ours-json", "peer-sqlite"), "postgres": ("ours-pg", "peer-pg")}
RUNS = []  # every wrk run; its number makes its names unique
PROBLEMS = []  # every run that saw a non-2xx or failed answer or a socket error
SKIPPED = {}  # operation: why it was not run


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    add = parser.add_argument
    add("--engines", default="json,postgres", help="our engines to run: json, postgres (both)")
    add("--ops", default="legacy-list,list,get,legacy-create,create,update",
        help=f"operations of the comparison, of: {', '.join(OPS)}")
    add("--scale-ops", default="legacy-list,legacy-deep,legacy-create,list,deep,create",
        help="operations of the scaling table")
    add("--size", type=int, default=2000, help="the tenant's datasets in the comparison (2000)")
    add("--sizes", default="1000,10000,50000", help="sizes of the scaling table; '' skips it")
    add("--pg-sizes", help="more sizes, for the PostgreSQL systems only (1000000; none when"
                           " --quick)")
    add("--duration", type=int, default=2, help="seconds of each measured run (2)")
    add("--warmup", type=int, default=1, help="seconds of unmeasured load before each run (1)")
    add("--repeats", type=int, default=5, help="rounds of the comparison; medians reported (5)")
    add("--scale-repeats", type=int, default=3, help="rounds at each size of the scaling (3)")
    add("--connections", type=int, default=8, help="wrk connections (8)")
    add("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    add("--others", type=int, default=3, help="other tenants, with a tenth as many datasets (3)")
    add("--quick", action="store_true",
        help="a first look: 1-second runs, no warm-up, one round, no --pg-sizes")
    add("--markdown", metavar="PATH", help="also write the results as Markdown")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.repeats, args.scale_repeats = 1, 0, 1, 1
    if args.pg_sizes is None:
        args.pg_sizes = "" if args.quick else "1000000"
    for name in ("engines", "ops", "scale_ops", "sizes", "pg_sizes"):
        setattr(args, name, [v.strip() for v in getattr(args, name).split(",") if v.strip()])
    unknown = set(args.ops + args.scale_ops) - set(OPS) or set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines or operations: {', '.join(sorted(unknown))}")
    args.sizes, args.pg_sizes = [int(n) for n in args.sizes], [int(n) for n in args.pg_sizes]
    return args


def ensure_wrk():
    """Install wrk with apt-get if it is not on the PATH."""
    if shutil.which("wrk"):
        return
    print("wrk is missing: installing it with apt-get", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update"], check=True, timeout=600)
    subprocess.run(sudo + ["apt-get", "install", "-y", "wrk"], check=True, timeout=600)


def request(op, size, ids, run="check"):
    """The method, path and body of `op` on a tenant of `size` datasets."""
    method, path, body, expect = OPS[op]
    path = path.replace("{deep}", str(max(size - 20, 0))).replace("{page}", str(max(size // 30, 1)))
    return method, path, body.replace("{run}", str(run)), expect


def shape(status, body):
    """What must match between systems: status, envelope keys, code, message, how many
    records and their keys."""
    body = body if isinstance(body, dict) else {}
    data = body.get("data")
    records = data if isinstance(data, list) else [data]
    return (status, tuple(sorted(body)), body.get("code"), body.get("message"), len(records),
            tuple(sorted(records[0])) if records and isinstance(records[0], dict) else None)


def check(servers, ops, key, ids, size):
    """The operations our app answers (the others are noted in SKIPPED); stop unless every
    system answers them in the same shape."""
    answered = []
    for op in ops:
        method, path, body, _ = request(op, size, ids)
        path, body = path.replace("{id}", ids[0]), body.replace("{n}", "0")
        answers = {s.name: systems.call(s.port, key, method, path, body) for s in servers}
        ours = [status for name, (status, _) in answers.items() if name.startswith("ours-")]
        if 404 in ours:
            SKIPPED[op] = f"the app answers 404 to {method} {OPS[op][1]}"
            continue
        shapes = {name: shape(*answer) for name, answer in answers.items()}
        if len(set(shapes.values())) != 1:
            sys.exit(f"{op} answers differ in shape:\n"
                     + "\n".join(f"  {name}: {s}" for name, s in shapes.items()))
        answered.append(op)
    return answered


def cpu_seconds(pid):
    """User + system CPU seconds spent so far by the children (workers) of process `pid`."""
    ticks = 0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(server, op, key, ids, size, seconds, connections):
    """One wrk run; its Lua `done` prints the figures as the last line."""
    method, path, body, expect = request(op, size, ids, run=len(RUNS))
    server.wait_ready(key)  # the requests a slow run left queued are served first
    before = cpu_seconds(server.proc.pid)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
               "-s", LUA, f"http://127.0.0.1:{server.port}/", "--", method, path, body, key,
               ",".join(ids), expect]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode:
        sys.exit(f"!!! wrk failed against {server.name} {op}: {done.stderr or done.stdout}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_s"] = cpu_seconds(server.proc.pid) - before
    RUNS.append(result)
    errors = {name: result[name] for name in report.ERRORS if result[name]}
    if not result["requests"]:
        errors["requests"] = "none answered within the run"
    if errors:
        PROBLEMS.append(f"{server.name} {op} at {size:,}: {errors}")
        print(f"!!! ERRORS: {server.name} {op}: {errors}; its log ends:\n{server.log_tail()}",
              flush=True)
    return result


def measure(names, ops, pristine, key, ids, size, args, repeats):
    """Rounds of one run per system and operation, the systems' order rotating so that noise
    hits all alike; each round serves a fresh copy of the store, so the writes of one round
    never grow the store that the next one measures."""
    runs = {}
    for rep in range(repeats):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            with systems.serving([name], pristine, args.workers, args.tmp) as [server]:
                server.wait_ready(key)
                for op in ops:
                    if args.warmup:
                        wrk(server, op, key, ids, size, args.warmup, args.connections)
                    elif op == ops[0]:  # at least the first requests of every worker
                        wrk(server, op, key, ids, size, 1, args.connections)
                    result = wrk(server, op, key, ids, size, args.duration, args.connections)
                    runs.setdefault((name, op), []).append(result)
                    print(f"  N={size:<8,} {name:11} {op:13} {report.rate(result):8.1f} req/s  "
                          f"p50 {result['p50_us'] / 1000:7.2f} ms", flush=True)
                runs.setdefault((name, "rss"), []).extend(server.worker_rss())
    return runs


def bench_at(size, names, ops, args, repeats):
    """Fill a store of `size` datasets for each of `names`, check them, and measure them."""
    pristine = tempfile.mkdtemp(dir=args.tmp, prefix=f"n{size}-")
    print(f"filling {size:,} datasets for {', '.join(names)}", flush=True)
    key, ids = systems.fill(pristine, size, args.others, names)
    ids = ids[::max(1, len(ids) // 100)]  # get and update go over a hundred of them in turn
    with systems.serving(names, pristine, args.workers, args.tmp) as servers:
        for server in servers:
            server.wait_ready(key)
        ops = check(servers, [op for op in OPS if op in ops and op not in SKIPPED], key, ids,
                    size)
    try:
        return measure(names, ops, pristine, key, ids, size, args, repeats)
    finally:
        for name in names:
            if systems.SYSTEMS[name][1] == "postgres":
                systems.drop_database(systems.database(os.path.join(pristine, name)))
        shutil.rmtree(pristine, ignore_errors=True)


def machine():
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                    if line.startswith("model name")), platform.processor())
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    code = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()
    return [["nproc", nproc], ["CPU", cpu], ["Python", platform.python_version()],
            ["wrk", wrk_version.split(" Copyright")[0].strip()], ["code", code or "unknown"],
            ["date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")],
            ["load average at start", " ".join(f"{n:.2f}" for n in os.getloadavg())]]


def median_us(action, times):
    """The median time of `action()` over `times` runs, in µs."""
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        spent.append(time.perf_counter() - start)
    return f"{statistics.median(spent) * 1e6:.0f} µs"


def limits(folder):
    """What no store on this machine beats: a synced append of a journal line's size (a
    JSON-engine commit, and what SQLite's WAL does per commit) in the benchmark's folder,
    and PostgreSQL's round trip and commit."""
    path = os.path.join(folder, "probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        rows = [["a synced append of 800 bytes (write + fdatasync)",
                 median_us(lambda: (os.write(fd, b"x" * 800), os.fdatasync(fd)), 300)]]
    finally:
        os.close(fd)
        os.remove(path)
    if systems.POSTGRES:
        with psycopg.connect(systems.POSTGRES.url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE probe (n integer)")
            try:
                rows += [["a PostgreSQL round trip (SELECT 1)",
                          median_us(lambda: conn.execute("SELECT 1").fetchone(), 1000)],
                         ["a PostgreSQL commit (INSERT of one row)",
                          median_us(lambda: conn.execute("INSERT INTO probe VALUES (1)"), 300)]]
            finally:
                conn.execute("DROP TABLE probe")
    return rows


def main():
    args = parse_args()
    ensure_wrk()
    facts = machine()  # before the run: the code served, the load the run starts under
    if "postgres" in args.engines and not pgserver.available():
        print(f"no PostgreSQL: running the JSON engine only ({pgserver.HOW})", flush=True)
        args.engines.remove("postgres")
    json_systems = ENGINES["json"] if "json" in args.engines else ()
    pg_systems = ENGINES["postgres"] if "postgres" in args.engines else ()
    compared = ["ceiling", *json_systems, *pg_systems]
    if pg_systems:
        print("starting a throwaway PostgreSQL server", flush=True)
        systems.POSTGRES = pgserver.Server()
    try:
        with tempfile.TemporaryDirectory(prefix="dataset-bench-") as args.tmp:
            facts += limits(args.tmp)
            comparison = bench_at(args.size, compared, args.ops, args, args.repeats)
            scaling = {size: bench_at(size, [*json_systems, *pg_systems], args.scale_ops, args,
                                      args.scale_repeats) for size in args.sizes}
            scaling.update({size: bench_at(size, list(pg_systems), args.scale_ops, args,
                                           args.scale_repeats)
                            for size in args.pg_sizes if pg_systems})
    finally:
        if systems.POSTGRES:
            systems.POSTGRES.stop()
    for markdown in (False, True) if args.markdown else (False,):
        text = report.results(args, facts, comparison, scaling, SKIPPED, len(RUNS), PROBLEMS,
                              markdown)
        if markdown:
            with open(args.markdown, "w") as file:
                file.write(text)
        else:
            print(text)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
