"""A PostgreSQL server for the tests: DATASET_API_TEST_DATABASE_URL's, or a throwaway one
started from Debian's PostgreSQL 15 binaries on a free loopback port."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import psycopg
from psycopg import sql

BIN = "/usr/lib/postgresql/15/bin"
HOW = ("PostgreSQL tests skipped: set DATASET_API_TEST_DATABASE_URL=postgresql://... or "
       "install PostgreSQL 15 (apt-get install postgresql-15)")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A throwaway cluster in a folder of its own, run as the `postgres` user when root."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="dataset-api-pg-")
        self.data, self.port = os.path.join(self.folder, "data"), free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.run(f"{BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8")
        self.start()

    def run(self, *command, check=True):
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run(prefix + list(command), capture_output=True, text=True,
                              timeout=120, check=check)

    def start(self):
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   f"-c max_connections=400")
        self.run(f"{BIN}/pg_ctl", "-D", self.data, "-o", options, "-l",
                 os.path.join(self.folder, "log"), "-w", "start")

    def require_password(self, role, password):
        """Make a role that logs in over TCP with `password` only; others stay trusted."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), password))
        hba = os.path.join(self.data, "pg_hba.conf")
        with open(hba) as file:
            rules = file.read()
        with open(hba, "w") as file:  # the first rule that matches decides
            file.write(f"host all {role} 127.0.0.1/32 scram-sha-256\n{rules}")
        self.run(f"{BIN}/pg_ctl", "-D", self.data, "reload")

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as file:
            return int(file.readline())

    def kill(self):
        """SIGKILL this server's postmaster and its backends, as a crash would; other
        clusters on the machine are not touched."""
        pid = self.pid()
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            backends = [int(child) for child in children.read().split()]
        for victim in [pid] + backends:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self):
        self.run(f"{BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def available():
    return os.path.exists(f"{BIN}/initdb")


def create_database(url, name):
    """Make database `name` on the server of `url` (dropping one of that name); its URL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def drop_store(conn):
    """Drop the store's tables of every schema version, as before the first."""
    conn.execute("DROP TABLE IF EXISTS schema_version, idempotency, datasets, keys, tenants,"
                 " tenant_shards, documents, chunks, files CASCADE")


def empty(url):
    """Remove every row of the store's tables in the database of `url`."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'schema_version'")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
