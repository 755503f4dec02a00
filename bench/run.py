"""Benchmark the service against a ceiling and a SQLite peer with wrk: `.venv/bin/python bench/run.py`."""

import argparse
import contextlib
import hashlib
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from app.store import rules  # noqa: E402
from app.store.jsonfile import layout  # noqa: E402
from bench import peer_sqlite  # noqa: E402
from tests import pgserver  # noqa: E402

BIN = os.path.dirname(sys.executable)  # the virtualenv's gunicorn and flask
LUA = os.path.join(ROOT, "bench", "load.lua")
APPS = {"ours": "wsgi:app", "ours-pg": "wsgi:app", "ceiling": "bench.ceiling:app",
        "peer": "bench.peer_sqlite:app"}
OPS = ("list", "create")
COMPARED = ("ours", "ceiling", "peer")
SCALED = ("ours", "ours-pg", "peer")
POSTGRES = None  # the benchmark's own PostgreSQL server, when a run needs one
TARGETS = (("list", "ceiling", 0.7), ("list", "peer", 1.2), ("create", "peer", 0.5))
ERRORS = ("non2xx", "connect", "read", "write", "timeout")
RUNS = []  # every wrk run; its number makes its create names unique
PROBLEMS = []  # every run that saw a non-2xx answer or a socket error


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2000,
                        help="datasets of the benchmarked tenant in the comparison (2000)")
    parser.add_argument("--sizes", default="1000,10000,50000",
                        help="comma-separated store sizes of the scaling table; '' skips it")
    parser.add_argument("--duration", type=int, default=2, help="seconds of each measured run (2)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="seconds of unmeasured load before each run; 0 for none (1)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds of runs per server and operation; medians are reported (5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--others", type=int, default=3,
                        help="other tenants, each with a tenth as many datasets (3)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1-second runs, no warm-up, one repeat")
    parser.add_argument("--markdown", metavar="PATH", help="also write the results as Markdown")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.repeats = 1, 0, 1
    args.sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    return args


def ensure_wrk():
    """Install wrk with apt-get if it is not on the PATH."""
    if shutil.which("wrk"):
        return
    print("wrk is missing: installing it with apt-get", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update"], check=True, timeout=600)
    subprocess.run(sudo + ["apt-get", "install", "-y", "wrk"], check=True, timeout=600)


def make_tenants(size, others):
    """The benchmarked tenant's `size` datasets first, then `others` tenants with their own."""
    now = time.time_ns() // 1_000_000

    def rows(n):  # created 1 ms apart, in the past, in doc-id order
        return [{"id": uuid.uuid4().hex, "name": f"ds{i}", "create_time": now - n + i,
                 "update_time": now - n + i} for i in range(n)]

    return {uuid.uuid4().hex: rows(n) for n in [size] + [max(10, size // 10)] * others}


def environment(folder, name=None):
    """A server's environment: our store (the JSON file, or the folder's PostgreSQL
    database for ours-pg) and the peer's database, in `folder`."""
    env = {**os.environ, "DATASET_API_DB_PATH": os.path.join(folder, "db.json"),
           "BENCH_PEER_DB": os.path.join(folder, "peer.sqlite"),
           "DATASET_API_TENANT_DATASET_LIMIT": "10000000"}
    if name == "ours-pg":
        env["DATASET_API_DATABASE_URL"] = POSTGRES.url(os.path.basename(folder).replace("-", "_"))
    return env


def export(tenants, keys):
    """The store as `store export` writes it: the datasets as this server would make them."""
    now = time.time_ns() // 1_000_000
    legacy = {"embedding_model": "BAAI/bge-large-zh-v1.5", "parser_config": {"pages": [[1, 1000000]]}}
    return {
        "keys": [{"id": uuid.uuid4().hex, "tenant": tenant, "name": "bench",
                  "digest": hashlib.sha256(key.encode()).hexdigest(), "created": now,
                  "last_used": None} for key, tenant in keys.items()],
        "tenants": [{"id": tenant, "created": now} for tenant in tenants],
        "datasets": [{**rules.new_dataset({"name": row["name"], **legacy}), "id": row["id"],
                      "tenant_id": tenant, "created_by": tenant,
                      "create_time": row["create_time"], "update_time": row["update_time"]}
                     for tenant, rows in tenants.items() for row in rows],
        "idempotency": []}


def fill(folder, tenants, names):
    """Fill our stores (through `store import`, as a user moving in would) and the peer's
    database; return the first key."""
    keys = {"ragflow-" + secrets.token_urlsafe(32): tenant for tenant in tenants}
    path = os.path.join(folder, "export.json")
    meta = {"format": layout.FORMAT, "id": uuid.uuid4().hex, "version": 0, "after": None}
    with open(path, "wb") as file:
        file.write(layout.serialise(layout.to_tables(export(tenants, keys), meta)))
    for name in {"ours", "ours-pg"} & set(names):
        if name == "ours-pg":
            pgserver.create_database(POSTGRES.url(), os.path.basename(folder).replace("-", "_"))
        subprocess.run([os.path.join(BIN, "flask"), "--app", "wsgi", "store", "import", path],
                       cwd=ROOT, env=environment(folder, name), capture_output=True, check=True,
                       timeout=1800)
    os.remove(path)
    peer_sqlite.fill(os.path.join(folder, "peer.sqlite"), tenants, keys)
    return next(iter(keys))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port, method, key, body=None):
    """One request to /api/v1/dataset; return the HTTP status and the parsed body."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/dataset" + ("?count=20" if body is None else ""),
        method=method, data=body and json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


class Server:
    """One app under gunicorn with the service's settings, on a free loopback port."""

    def __init__(self, name, env, workers, folder):
        self.name, self.port = name, free_port()
        self.log_path = os.path.join(folder, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), APPS[name], "-c", "gunicorn.conf.py",
             "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--no-control-socket"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, key, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                call(self.port, "GET", key)
                return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"{self.name} did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self):
        with open(self.log_path, errors="replace") as log:
            return log.read()[-3000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def shape(status, body):
    """What must match between servers: status, code, message, envelope and record keys, count."""
    data = body.get("data")
    records = data if isinstance(data, list) else [data]
    return (status, body.get("code"), body.get("message"), tuple(sorted(body)), len(records),
            tuple(sorted(records[0] or {})) if records else None)


def check_shapes(servers, key):
    """Stop unless every server answers list and create in the same shape."""
    for method, body in (("GET", None), ("POST", {"name": "shape-check"})):
        shapes = {s.name: shape(*call(s.port, method, key, body)) for s in servers}
        if len(set(shapes.values())) != 1:
            sys.exit(f"{method} answers differ in shape: {shapes}")


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


def wrk(server, op, key, seconds, connections):
    """One wrk run; its Lua `done` prints the figures as the last line."""
    before = cpu_seconds(server.proc.pid)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
               "-s", LUA, f"http://127.0.0.1:{server.port}/", "--", op, key, str(len(RUNS))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode:
        sys.exit(f"!!! wrk failed against {server.name} {op}: {done.stderr or done.stdout}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_s"] = cpu_seconds(server.proc.pid) - before
    RUNS.append(result)
    errors = {name: result[name] for name in ERRORS if result[name]}
    if errors:
        PROBLEMS.append(f"{server.name} {op}: {errors}")
        print(f"!!! ERRORS: {server.name} {op}: {errors}", flush=True)
    return result


@contextlib.contextmanager
def serving(names, pristine, args, tmp):
    """gunicorn serving each of `names` on its own fresh copy of the filled `pristine` folder."""
    servers = []
    try:
        for name in names:
            folder = tempfile.mkdtemp(dir=tmp, prefix=f"{name}-")
            shutil.copytree(pristine, folder, dirs_exist_ok=True)
            if name == "ours-pg":  # a fresh copy of the filled database, as of the file
                copy_database(pristine, folder)
            servers.append(Server(name, environment(folder, name), args.workers, folder))
        yield servers
    finally:
        for server in servers:
            server.stop()


def copy_database(pristine, folder):
    with psycopg.connect(POSTGRES.url(), autocommit=True) as conn:
        source, target = (os.path.basename(f).replace("-", "_") for f in (pristine, folder))
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def measure(names, pristine, key, args, tmp, label):
    """Rounds of one list run and one create run per server, the servers' order rotating so
    noise hits all alike; each round serves a fresh copy of the store, so the creates of one
    run never grow the store that the next run measures."""
    runs = {}
    for rep in range(args.repeats):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            with serving([name], pristine, args, tmp) as [server]:
                server.wait_ready(key)
                for op in OPS:
                    if args.warmup:
                        wrk(server, op, key, args.warmup, args.connections)
                    elif op == OPS[0]:  # at least every worker's first read of the store
                        wrk(server, op, key, 1, args.connections)
                    result = wrk(server, op, key, args.duration, args.connections)
                    runs.setdefault((name, op), []).append(result)
                    print(f"  {label:>8} {name:8} {op:6} {rate(result):8.1f} req/s  "
                          f"p50 {result['p50_us'] / 1000:7.2f} ms", flush=True)
                runs.setdefault((name, "rss"), []).append(worker_rss(server.proc.pid))
    return runs


def worker_rss(pid):
    """The largest resident memory, in MB, of the workers of gunicorn master `pid`."""
    sizes = []
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        for child in children.read().split():
            with open(f"/proc/{child}/status") as status:
                sizes += [int(line.split()[1]) / 1024 for line in status
                          if line.startswith("VmRSS:")]
    return max(sizes, default=0)


def rate(result):
    return result["requests"] * 1e6 / result["duration_us"]


def summary(results):
    """Medians of a few runs: req/s, p50 and p99 in ms, workers' CPU per request in µs."""
    rates = [rate(r) for r in results]
    return {"rps": statistics.median(rates), "low": min(rates), "high": max(rates),
            "cpu": statistics.median(r["cpu_s"] / max(r["requests"], 1) for r in results) * 1e6,
            "p50": statistics.median(r["p50_us"] for r in results) / 1000,
            "p99": statistics.median(r["p99_us"] for r in results) / 1000}


def bench_at(size, names, args, tmp):
    """Fill a store of `size` datasets, serve it from each of `names`, and measure them."""
    pristine = tempfile.mkdtemp(dir=tmp, prefix=f"n{size}-")
    key = fill(pristine, make_tenants(size, args.others), names)
    with serving(names, pristine, args, tmp) as servers:
        for server in servers:
            server.wait_ready(key)
        check_shapes(servers, key)
    return measure(names, pristine, key, args, tmp, f"N={size}")


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


def table(headers, rows, markdown):
    """Rows of cells as an aligned text table, or as a Markdown table."""
    if markdown:
        lines = [headers, ["---"] * len(headers)] + rows
        return "\n".join("| " + " | ".join(map(str, row)) + " |" for row in lines)
    widths = [max(len(str(row[i])) for row in [headers] + rows) for i in range(len(headers))]
    numeric = [all(str(row[i])[:1].isdigit() for row in rows) for i in range(len(headers))]
    return "\n".join("  ".join(str(c).rjust(w) if n else str(c).ljust(w)
                               for c, w, n in zip(row, widths, numeric)).rstrip()
                     for row in [headers] + rows)


def report(args, facts, comparison, scaling, markdown):
    """The results: settings, machine, the comparison, the ratios and the scaling table."""
    heading = "\n### {}\n" if markdown else "\n== {} ==\n"
    settings = (f"N={args.size} datasets (+{args.others} other tenants), {args.workers} sync "
                f"workers, wrk 1 thread {args.connections} connections; {args.repeats} rounds of "
                f"{args.duration} s runs (after {args.warmup} s warm-up) per server and operation, "
                "servers rotating; medians. Ratios: the median of the rounds' ratios. Worker CPU per "
                "request (from /proc) is less sensitive than req/s to other load on the machine.")
    summaries = {run: summary(results) for run, results in comparison.items() if run[1] in OPS}
    verdicts = []
    for op, other, target in TARGETS:
        values = ratios(comparison, op, other)
        value = statistics.median(values)
        by_cpu = summaries[other, op]["cpu"] / summaries["ours", op]["cpu"]
        verdicts.append([op, f"ours/{other}", f"{value:.2f}", f"{values[0]:.2f}-{values[-1]:.2f}",
                         f">= {target}", "met" if value >= target else "MISSED", f"{by_cpu:.2f}"])
    parts = [heading.format("Machine"), table(["machine", ""], facts, markdown),
             heading.format("Comparison"), settings + "\n",
             table(["server", "operation", "req/s", "req/s min-max", "p50 ms", "p99 ms",
                    "worker CPU µs/req"],
                   [[name, op, f"{s['rps']:.0f}", f"{s['low']:.0f}-{s['high']:.0f}",
                     f"{s['p50']:.2f}", f"{s['p99']:.2f}", f"{s['cpu']:.0f}"]
                    for op in OPS for (name, o), s in summaries.items() if o == op], markdown),
             heading.format("Ratios (req/s)"),
             table(["operation", "ratio", "value", "rounds min-max", "target", "verdict",
                    "by CPU/req"],
                   verdicts, markdown)]
    if scaling:
        headers = ["datasets"] + [f"{name} {op} {what}" for name in SCALED for op in OPS
                                  for what in ("req/s", "p50 ms")]
        headers += [f"{name} worker MB" for name in SCALED]
        rows = [[f"{size:,}"] + [f"{summary(runs[name, op])[what]:.{digits}f}" for name in SCALED
                                 for op in OPS for what, digits in (("rps", 0), ("p50", 2))]
                + [f"{max(runs[name, 'rss']):.0f}" for name in SCALED]
                for size, runs in scaling.items()]
        parts += [heading.format("Scaling with the store's size"), table(headers, rows, markdown)]
    if PROBLEMS:
        errors = [f"!!! {len(PROBLEMS)} RUNS SAW ERRORS; THE FIGURES ABOVE DO NOT COUNT:"]
        errors += [f"!!! {problem}" for problem in PROBLEMS]
    else:
        errors = [f"none: 0 non-2xx responses and 0 socket errors in all {len(RUNS)} wrk runs"]
    parts += [heading.format("Errors")] + errors
    return "\n".join(parts) + "\n"


def ratios(runs, op, other):
    """Ours over `other` in req/s, round by round: runs close in time share the noise."""
    return sorted(rate(a) / rate(b) for a, b in zip(runs["ours", op], runs[other, op]))


def main():
    args = parse_args()
    ensure_wrk()
    facts = machine()  # before the run: the code served, the load the run starts under
    global POSTGRES
    if args.sizes:
        print("starting a throwaway PostgreSQL server for ours-pg", flush=True)
        POSTGRES = pgserver.Server()
    try:
        with tempfile.TemporaryDirectory(prefix="dataset-bench-") as tmp:
            comparison = bench_at(args.size, COMPARED, args, tmp)
            scaling = {size: bench_at(size, SCALED, args, tmp) for size in args.sizes}
    finally:
        if POSTGRES:
            POSTGRES.stop()
    print(report(args, facts, comparison, scaling, markdown=False))
    if args.markdown:
        with open(args.markdown, "w") as file:
            file.write(report(args, facts, comparison, scaling, markdown=True))
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
