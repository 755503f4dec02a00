"""The app under a real gunicorn, and its CLI, run as subprocesses for the live tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS = 4
TIMEOUT = 20  # seconds that a start, a stop, a command or a request may take


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(db_path, database_url=None, settings=None):
    """This environment, with the store at `db_path` (or in PostgreSQL at `database_url`)
    and no other DATASET_API_ setting than `settings` ({"JOURNAL_LIMIT": 2000}...) and
    DATASET_API_CACHE, which the whole suite runs with."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DATASET_API_") or k == "DATASET_API_CACHE"}
    env["DATASET_API_DB_PATH"] = str(db_path)
    if database_url:
        env["DATASET_API_DATABASE_URL"] = database_url
    env.update({f"DATASET_API_{name}": str(value) for name, value in (settings or {}).items()})
    return env


def cli(db_path, *args, database_url=None):
    """Run `flask --app wsgi ARGS` on the store at `db_path`; the finished process."""
    return subprocess.run([BIN / "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=environment(db_path, database_url), capture_output=True,
                          text=True, timeout=TIMEOUT)


def issue_key(db_path, *args, database_url=None):
    """Issue a key with `keys create ARGS` on a store made if new; the key (its last line)."""
    made = cli(db_path, "store", "init", database_url=database_url)
    assert made.returncode == 0, made.stderr
    result = cli(db_path, "keys", "create", *args, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def key_id(db_path, label):
    """The id of the key labelled `label`, as `keys list` shows it."""
    result = cli(db_path, "keys", "list")
    assert result.returncode == 0, result.stderr
    ids = [line.split()[0] for line in result.stdout.splitlines() if label in line.split()]
    assert len(ids) == 1, result.stdout
    return ids[0]


class Server:
    """gunicorn serving the app on a free loopback port, in a process group of its own."""

    def __init__(self, db_path, log_dir, *args, database_url=None, settings=None):
        self.db_path, self.args, self.database_url = db_path, args, database_url
        self.settings = settings
        self.log_dir = log_dir
        self.out_path, self.err_path = log_dir / "gunicorn.out", log_dir / "gunicorn.err"
        self.process = None
        self.url = self.metrics_url = None

    def start(self):
        """Start gunicorn and return at once; `ready` waits for it."""
        bind, metrics = (f"127.0.0.1:{free_port()}" for _ in range(2))
        self.url, self.metrics_url = f"http://{bind}", f"http://{metrics}/metrics"
        command = [BIN / "gunicorn", "wsgi:app", "-c", "gunicorn.conf.py", "-b", bind,
                   "-w", str(WORKERS), "--no-control-socket", *self.args]
        env = environment(self.db_path, self.database_url,
                          {"METRICS_BIND": metrics, **(self.settings or {})})
        env["TMPDIR"] = str(self.log_dir)  # the metrics' folder, with the test's files
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                            stderr=err, start_new_session=True)
        return self

    def ready(self):
        """Wait until GET /healthz answers 200; fail if gunicorn exits or takes too long."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited:\n{self.stderr()}"
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"gunicorn did not answer in {TIMEOUT} s:\n{self.stderr()}")

    def exit_code(self):
        """Wait for gunicorn to exit by itself; its exit code."""
        return self.process.wait(TIMEOUT)

    def stop(self):
        """SIGTERM, as a supervisor stops it; the whole group is killed if that fails.

        A worker still booting when the master passes SIGTERM on has the master's handler
        yet, which drops it (gunicorn's race), and the master waits out the graceful timeout
        (30 s) for it: after half of TIMEOUT the workers left are sent SIGTERM again."""
        self.process.terminate()
        try:
            try:
                self.process.wait(TIMEOUT / 2)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(TIMEOUT / 2)
        finally:
            self.kill()

    def kill(self):
        """SIGKILL the master and every worker at once, as a crash or power cut would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(TIMEOUT)

    def request(self, method, path, key=None, headers=None, **kwargs):
        """An HTTP request to the server, with the key as a Bearer token if given."""
        headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
        return requests.request(method, self.url + path, headers=headers, timeout=TIMEOUT,
                                **kwargs)

    def stdout(self):
        return self.out_path.read_text()

    def stderr(self):
        return self.err_path.read_text()
