"""The systems under test: their apps, their stores filled alike, and gunicorn serving them."""

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import psycopg

from app.store import rules
from app.store.jsonfile import layout
from bench import peer_postgres, peer_sqlite

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)  # the virtualenv's gunicorn and flask
# name: (WSGI app, the database server it needs)
SYSTEMS = {"ours-json": ("wsgi:app", None), "ours-pg": ("wsgi:app", "postgres"),
           "ceiling": ("bench.ceiling:app", None), "peer-sqlite": ("bench.peer_sqlite:app", None),
           "peer-pg": ("bench.peer_postgres:app", "postgres")}
BIG = str(10 ** 8)  # limits of datasets per tenant and per list no size here reaches
POSTGRES = None  # the benchmark's own PostgreSQL server (tests/pgserver.py), when one is needed


def database(folder):
    """The name of the PostgreSQL database of a system's `folder`: its path's last two parts,
    unique in the benchmark's temporary folder."""
    return re.sub(r"\W", "_", "_".join(folder.split(os.sep)[-2:]))


def environment(name, folder):
    """A system's environment: its store in `folder` (a file, or a database named after it)."""
    env = {**os.environ, "DATASET_API_DB_PATH": os.path.join(folder, "db.json"),
           "BENCH_PEER_DB": os.path.join(folder, "peer.sqlite"),
           "DATASET_API_TENANT_DATASET_LIMIT": BIG, "DATASET_API_LIST_LIMIT": BIG}
    if name == "ours-pg":
        env["DATASET_API_DATABASE_URL"] = POSTGRES.url(database(folder))
    elif name == "peer-pg":
        env["BENCH_PEER_DATABASE_URL"] = POSTGRES.url(database(folder))
    return env


def make_tenants(size, others):
    """The benchmarked tenant's `size` datasets first, then `others` tenants with a tenth as
    many each: {tenant: [(id, name, time)]}, created 1 ms apart, in the past."""
    now = time.time_ns() // 1_000_000

    def rows(n):
        return [(uuid.uuid4().hex, f"ds{i}", now - n + i) for i in range(n)]

    return {uuid.uuid4().hex: rows(n) for n in [size] + [max(10, size // 10)] * others}


def export(tenants, keys):
    """The store as `store export` writes it: the datasets as a legacy create makes them."""
    now = time.time_ns() // 1_000_000
    legacy = {"embedding_model": "BAAI/bge-large-zh-v1.5",
              "parser_config": {"pages": [[1, 1000000]]}}
    return {
        "keys": [{"id": uuid.uuid4().hex, "tenant": tenant, "name": "bench",
                  "digest": hashlib.sha256(key.encode()).hexdigest(), "created": now,
                  "last_used": None} for key, tenant in keys.items()],
        "tenants": [{"id": tenant, "created": now} for tenant in tenants],
        "datasets": [{**rules.new_dataset({"name": name, **legacy}), "id": dataset_id,
                      "tenant_id": tenant, "created_by": tenant, "create_time": ms,
                      "update_time": ms}
                     for tenant, rows in tenants.items() for dataset_id, name, ms in rows],
        "idempotency": []}


def fill(pristine, size, others, names):
    """Fill each of `names`' store in its folder under `pristine` with the same keys and
    datasets (ours through `store import`, as a user moving in would); return the
    benchmarked tenant's key and its datasets' ids, oldest first."""
    tenants = make_tenants(size, others)
    keys = {"ragflow-" + secrets.token_urlsafe(32): tenant for tenant in tenants}
    data = export(tenants, keys)
    path = os.path.join(pristine, "export.json")
    meta = {"format": layout.FORMAT, "id": uuid.uuid4().hex, "version": 0, "after": None}
    with open(path, "wb") as file:
        file.write(layout.serialise(layout.to_tables(data, meta)))
    for name in names:
        folder = os.path.join(pristine, name)
        os.mkdir(folder)
        if SYSTEMS[name][1] == "postgres":
            create_database(database(folder))
        if name.startswith("ours-"):
            # The PostgreSQL engine's statement timeout is LOCK_TIMEOUT (10 s), which a COPY
            # of some 140,000 datasets outlasts: the import alone is given an hour.
            env = {**environment(name, folder), "DATASET_API_LOCK_TIMEOUT": "3600"}
            done = subprocess.run(
                [os.path.join(BIN, "flask"), "--app", "wsgi", "store", "import", path], cwd=ROOT,
                env=env, capture_output=True, text=True, timeout=3600)
            if done.returncode:
                sys.exit(f"store import into {name} failed:\n{done.stdout}{done.stderr}")
        if name == "ours-pg":  # the statistics autovacuum would gather soon after an import
            with psycopg.connect(POSTGRES.url(database(folder)), autocommit=True) as conn:
                conn.execute("ANALYZE")
        elif name == "peer-sqlite":
            peer_sqlite.fill(os.path.join(folder, "peer.sqlite"), data["datasets"], keys)
        elif name == "peer-pg":
            peer_postgres.fill(POSTGRES.url(database(folder)), data["datasets"], keys)
    os.remove(path)
    first = next(iter(tenants))
    return next(iter(keys)), [dataset_id for dataset_id, _, _ in tenants[first]]


def admin(sql):
    """Run `sql` on the server's own database, waiting up to a minute for a server that is
    restarting (its backends killed by another cluster's tests, say)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(POSTGRES.url(), autocommit=True) as conn:
                conn.execute(sql)
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def create_database(name, template=None):
    admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def drop_database(name):
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port, key, method, path, body=""):
    """One request; return the HTTP status and the parsed body (None if it is not JSON)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, data=body.encode() or None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.load(err)
        except ValueError:
            return err.code, None


class Server:
    """One system under gunicorn with the service's settings, on a free loopback port."""

    def __init__(self, name, folder, workers):
        self.name, self.folder, self.port = name, folder, free_port()
        self.log_path = os.path.join(folder, "gunicorn.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), SYSTEMS[name][0], "-c", "gunicorn.conf.py",
             "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--no-control-socket"],
            cwd=ROOT, env=environment(name, folder), stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, key, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                call(self.port, key, "GET", "/api/v1/dataset?count=1")
                return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"{self.name} did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self):
        with open(self.log_path, errors="replace") as log:
            return log.read()[-3000:]

    def worker_rss(self):
        """Each worker's resident memory in MB, from /proc."""
        sizes = []
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as children:
            for child in children.read().split():
                with open(f"/proc/{child}/status") as status:
                    sizes += [int(line.split()[1]) / 1024 for line in status
                              if line.startswith("VmRSS:")]
        return sizes

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@contextlib.contextmanager
def serving(names, pristine, workers, tmp):
    """gunicorn serving each of `names` on its own fresh copy of its store in `pristine`."""
    servers, databases = [], []
    try:
        for name in names:
            folder = tempfile.mkdtemp(dir=tmp, prefix=f"{name}-")
            shutil.copytree(os.path.join(pristine, name), folder, dirs_exist_ok=True)
            if SYSTEMS[name][1] == "postgres":
                databases.append(database(folder))
                create_database(databases[-1], template=database(os.path.join(pristine, name)))
            servers.append(Server(name, folder, workers))
        yield servers
    finally:
        for server in servers:
            server.stop()
            shutil.rmtree(server.folder, ignore_errors=True)
        for name in databases:
            drop_database(name)
