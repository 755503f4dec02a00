"""The soak run: a well-behaved tenant's latency through the shipped nginx alone, then beside
a hostile mix (huge lists, a flood from one key, slow clients), all on loopback: `make soak`,
or `.venv/bin/python bench/soak.py --quick` for a 30-second look."""

import argparse
import http.client
import json
import multiprocessing
import secrets
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app.store.jsonfile import layout  # noqa: E402
from bench import hostile, run as bench_run, systems  # noqa: E402
from harness import pgserver  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.live import Server, cli  # noqa: E402

TARGET = 3.0  # the well-behaved tenant's p99 under attack, at most this many times its p99 alone
GOOD_THREADS, GOOD_INTERVAL = 3, 0.2  # 15 requests a second: under nginx's 20 per key
CREATE_EVERY = 10  # one request in ten a well-behaved thread sends is a create


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    add = parser.add_argument
    add("--engine", choices=("json", "postgres"), default="json", help="the store (json)")
    add("--seconds", type=int, default=60, help="seconds of each phase (60)")
    add("--hostile", type=int, default=20000, help="the hostile tenant's datasets (20000)")
    add("--good", type=int, default=300, help="the well-behaved tenant's datasets (300)")
    add("--quick", action="store_true", help="phases of 12 seconds: about 30 seconds in all")
    add("--markdown", metavar="PATH", help="also write the results as Markdown (make soak: "
                                           "docs/soak.md)")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 12
    return args


def fill(folder, args, database_url):
    """A store of a hostile tenant (two keys) and a well-behaved one, through `store import`;
    {role: key}."""
    hostile_tenant, good_tenant = uuid.uuid4().hex, uuid.uuid4().hex
    now = time.time_ns() // 1_000_000
    tenants = {tenant: [(uuid.uuid4().hex, f"ds{i}", now - n + i) for i in range(n)]
               for tenant, n in ((hostile_tenant, args.hostile), (good_tenant, args.good))}
    keys = {role: "ragflow-" + secrets.token_urlsafe(32) for role in ("hostile", "flood", "good")}
    data = systems.export(tenants, {keys["hostile"]: hostile_tenant,
                                    keys["flood"]: hostile_tenant, keys["good"]: good_tenant})
    meta = {"format": layout.FORMAT, "id": uuid.uuid4().hex, "version": 0, "after": None}
    path = folder / "export.json"
    path.write_bytes(layout.serialise(layout.to_tables(data, meta)))
    done = cli(folder / "db.json", "store", "import", str(path), database_url=database_url)
    if done.returncode:
        sys.exit(f"store import failed:\n{done.stdout}{done.stderr}")
    return keys


def good_thread(port, key, deadline, number, samples, errors):
    """Well-behaved requests every GOOD_INTERVAL seconds: first pages of both APIs, a create
    now and then; (latency s) into `samples`, 'what: why' into `errors`."""
    conn, n, start = None, 0, time.monotonic() + number * GOOD_INTERVAL / GOOD_THREADS
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    due = start
    while due < deadline:
        time.sleep(max(0.0, due - time.monotonic()))
        # A request that was late does not make the next ones early: never over the rate.
        due = max(due, time.monotonic()) + GOOD_INTERVAL
        if n % CREATE_EVERY == CREATE_EVERY - 1:
            what, method, path, code = "create", "POST", "/api/v1/datasets", 0
            body = json.dumps({"name": f"good-{number}-{n}-{uuid.uuid4().hex[:8]}"})
        elif n % 2:
            what, method, path, code, body = "list", "GET", "/api/v1/datasets?page_size=30", 0, None
        else:
            what, method, path, code, body = ("legacy list", "GET", "/api/v1/dataset?count=30",
                                              102, None)
        n += 1
        sent = time.monotonic()
        try:
            conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path, body, headers)
            answer = conn.getresponse()
            payload = answer.read()
            samples.append(time.monotonic() - sent)
            if answer.status != 200 or json.loads(payload).get("code") != code:
                errors.append(f"{what}: {answer.status} {payload[:120]!r}")
            if answer.will_close:
                conn = conn.close()
        except (OSError, http.client.HTTPException, ValueError) as err:
            errors.append(f"{what}: {err!r}")
            conn = conn and conn.close()


def good_load(port, key, seconds):
    """The well-behaved tenant for `seconds`: (sorted latencies in s, errors)."""
    samples, errors, deadline = [], [], time.monotonic() + seconds
    workers = [threading.Thread(target=good_thread, args=(port, key, deadline, i, samples, errors))
               for i in range(GOOD_THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(samples), errors


def under_attack(port, keys, args):
    """The well-behaved load while every hostile stream runs in a process of its own."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    streams = [context.Process(target=hostile.run, args=(
        name, port, keys["flood" if name.startswith("flood") else "hostile"], args.hostile,
        args.seconds + 1, results)) for name in hostile.STREAMS]
    for stream in streams:
        stream.start()
    time.sleep(1)  # every stream under way before the measuring starts
    good = good_load(port, keys["good"], args.seconds)
    got = {}
    for _ in streams:
        name, counter, took = results.get(timeout=60)
        got[name] = (counter, took)
    for stream in streams:
        stream.join(30)
    return good, got


def wait_healthy(server):
    """Server.ready, after a first /healthz that may take over its 1 s: the workers of a big
    store read it first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            server.request("GET", "/healthz")
            return server.ready()
        except requests.ConnectionError:
            time.sleep(0.1)
    return server.ready()


def quantile(samples, q):
    return samples[min(len(samples) - 1, int(q * len(samples)))] if samples else float("nan")


def report(args, facts, alone, attacked, streams, ratio, verdict):
    ms = lambda s: f"{s * 1000:.1f}"  # noqa: E731
    lines = ["# Soak run", "",
             f"`{' '.join(['.venv/bin/python', 'bench/soak.py', *sys.argv[1:]])}`: "
             f"{args.seconds} s alone, then {args.seconds} s beside the hostile mix; engine "
             f"{args.engine}; a hostile tenant of {args.hostile:,} datasets, a well-behaved one "
             f"of {args.good:,}; gunicorn with 4 sync workers behind deploy/nginx.conf, all on "
             f"127.0.0.1.", "", "| machine | |", "|---|---|",
             *(f"| {name} | {value} |" for name, value in facts), "",
             "## The well-behaved tenant", "",
             f"{GOOD_THREADS} threads, a request every {GOOD_INTERVAL} s each (first pages of "
             f"both APIs, one create in {CREATE_EVERY}), keep-alive, through nginx.", "",
             "| phase | requests | p50 ms | p99 ms | max ms | errors |",
             "|---|---|---|---|---|---|"]
    for phase, (samples, errors) in (("alone", alone), ("under attack", attacked)):
        lines.append(f"| {phase} | {len(samples)} | {ms(quantile(samples, .5))} | "
                     f"{ms(quantile(samples, .99))} | {ms(samples[-1] if samples else 0)} | "
                     f"{len(errors)} |")
    lines += ["", f"p99 under attack / p99 alone: **{ratio:.2f}x** (target <= {TARGET:g}x): "
                  f"**{verdict}**", "", "## What the hostile streams got", "",
              "| stream | seconds | what | count | mean ms |", "|---|---|---|---|---|"]
    for name, (counter, took) in streams.items():
        for label, count in sorted(counter.items()):
            if not label.endswith(hostile.SECONDS):
                mean = counter.get(label + hostile.SECONDS)
                mean = "" if mean is None else ms(mean / count)
                lines.append(f"| {name} | {took:.0f} | {label} | {count:,} | {mean} |")
    errors = (alone[1] + attacked[1])[:10]
    if errors:
        lines += ["", "The well-behaved tenant's first errors:", "",
                  *(f"- `{error}`" for error in errors)]
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    facts = [f for f in bench_run.machine() if f[0] != "wrk"]
    tmp = Path(tempfile.mkdtemp(prefix="dataset-soak-"))
    postgres = server = nginx = None
    try:
        database_url = None
        if args.engine == "postgres":
            postgres = pgserver.Server()
            database_url = pgserver.create_database(postgres.url(), "soak")
        print(f"filling {args.hostile:,} + {args.good:,} datasets", flush=True)
        keys = fill(tmp, args, database_url)
        server = Server(tmp / "db.json", tmp, database_url=database_url).start()
        wait_healthy(server)
        nginx = Nginx(tmp / "nginx", server.url.rsplit(":", 1)[1])
        # The test harness's nginx allows 64 connections; the soak's hundred-odd sockets,
        # each proxied, need more (Debian's own nginx.conf has 768).
        conf = nginx.folder / "nginx.conf"
        conf.write_text(conf.read_text().replace("worker_connections 64",
                                                 "worker_connections 1024"))
        nginx.start()
        for _ in range(3):  # every worker has read the store before anything is measured
            threads = [threading.Thread(target=server.request, args=("GET", path, keys[role]))
                       for role in ("good", "hostile") for path in
                       ("/api/v1/dataset?count=30", "/api/v1/datasets?page_size=30")]
            [t.start() for t in threads], [t.join() for t in threads]
        print(f"phase 1: the well-behaved tenant alone, {args.seconds} s", flush=True)
        alone = good_load(nginx.port, keys["good"], args.seconds)
        time.sleep(2)  # nginx's bucket for the key fills again
        print(f"phase 2: the same beside the hostile mix, {args.seconds} s", flush=True)
        attacked, streams = under_attack(nginx.port, keys, args)
    finally:
        for part in (nginx, server, postgres):
            if part:
                part.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = quantile(attacked[0], .99) / quantile(alone[0], .99)
    ok = ratio <= TARGET and not alone[1] and not attacked[1] and alone[0] and attacked[0]
    verdict = "met" if ok else "MISSED" if ratio > TARGET else "errors"
    text = report(args, facts, alone, attacked, streams, ratio, verdict)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
