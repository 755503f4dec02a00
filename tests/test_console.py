"""`ragflow-dataset-api`, the command installed with the package, run from outside the
repository; and one-line messages for bad settings, in every command that reads them."""

import multiprocessing
import os
import subprocess
import time

import pytest
import requests

from harness.live import BIN, ROOT, TIMEOUT, environment, free_port

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

COMMAND = str(BIN / "ragflow-dataset-api")


def run(cwd, *args, **settings):
    """Run the console command in `cwd`, with only the settings given; the finished process."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DATASET_API_") and k != "WEB_CONCURRENCY"}
    return subprocess.run([COMMAND, *args], cwd=cwd, env={**env, **settings},
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_version(tmp_path):
    result = run(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout == "ragflow-dataset-api, version 0.1.0\n"


def test_keys_from_any_folder_use_the_store_there_once_made(tmp_path):
    """No store is made without `store init`: a key made in a folder the server does not
    read would be refused by the server. Every command names its store on stderr."""
    store = tmp_path / "data" / "db.json"  # the default, from the working folder
    refused = run(tmp_path, "keys", "create", "--name", "laptop")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.splitlines() == [
        f"Store: JSON file {store}",
        f"Error: No store at {store}. Run this with the server's settings (DATASET_API_DB_PATH,"
        f" DATASET_API_DATABASE_URL), or make a new store there with `store init`."]
    assert list(tmp_path.iterdir()) == []  # not even its folder
    made = run(tmp_path, "store", "init")
    assert made.returncode == 0 and made.stdout == f"{store}: a new, empty store\n"
    created = run(tmp_path, "keys", "create", "--name", "laptop")
    assert created.returncode == 0, created.stderr
    assert created.stderr == f"Store: JSON file {store}\n"
    listed = run(tmp_path, "keys", "list")
    assert "laptop" in listed.stdout and created.stdout.splitlines()[-1] not in listed.stdout


def test_serve_from_any_folder(tmp_path):
    """gunicorn with the package's settings: its JSON worker, and no control socket that a
    second server under the same user would share."""
    store, home = tmp_path / "elsewhere" / "db.json", tmp_path / "home"
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in environment(store).items() if k != "XDG_RUNTIME_DIR"}
    server = subprocess.Popen([COMMAND, "serve", "-b", url[7:], "-w", "1"], cwd=tmp_path,
                              env={**env, "HOME": str(home)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and server.poll() is None:
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        # The server made its store as it started (the quick start's first key needs it).
        created = run(tmp_path, "keys", "create", DATASET_API_DB_PATH=str(store))
        assert created.returncode == 0, created.stderr
        answer = requests.post(f"{url}/api/v1/dataset", json={"name": "kb"}, timeout=TIMEOUT,
                               headers={"Authorization": f"Bearer {created.stdout.split()[-1]}"})
        assert answer.status_code == 200 and answer.json()["data"]["dataset_name"] == "kb"
    finally:
        server.terminate()
        try:
            output = server.communicate(timeout=TIMEOUT)[0]
        finally:
            server.kill()
            server.wait(TIMEOUT)
    assert "Using worker: app.serving.worker.JsonWorker" in output
    assert not (home / ".gunicorn").exists()


def test_serve_help_shows_our_defaults_not_gunicorns(tmp_path):
    cores = multiprocessing.cpu_count()
    shown = run(tmp_path, "serve", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "-b, --bind     127.0.0.1:9380\n" in shown.stdout  # gunicorn's is 127.0.0.1:8000
    assert f"-w, --workers  {2 * cores + 1} (2 × {cores} cores + 1)\n" in shown.stdout
    assert f"the store      {tmp_path / 'data' / 'db.json'} (DATASET_API_DB_PATH)" in shown.stdout
    assert "8000" not in shown.stdout and not (tmp_path / "data").exists()
    shown = run(tmp_path, "serve", "-h", WEB_CONCURRENCY="3",
                DATASET_API_DATABASE_URL="postgresql://u:secret@db.example/x")
    assert "-w, --workers  3 (WEB_CONCURRENCY)\n" in shown.stdout
    assert "PostgreSQL, at DATASET_API_DATABASE_URL" in shown.stdout
    assert "secret" not in shown.stdout


BAD = [  # (variable, value, the one line that says why)
    ("DATASET_API_NAME_RULE", "loose",
     "DATASET_API_NAME_RULE must be one of strict, legacy, not 'loose'"),
    ("DATASET_API_LIST_LIMIT", "lots", "DATASET_API_LIST_LIMIT must be a whole number above 0, "
                                       "not 'lots'"),
    ("DATASET_API_LOCK_TIMEOUT", "-1", "DATASET_API_LOCK_TIMEOUT must be a number above 0, "
                                       "not '-1'"),
    ("DATASET_API_MAX_CONTENT_LENGTH", "0", "DATASET_API_MAX_CONTENT_LENGTH must be a whole "
                                            "number above 0, not '0'"),
    ("DATASET_API_DB_PATH", " ", "DATASET_API_DB_PATH must not be empty"),
    ("DATASET_API_DATABASE_URL", "mysql://root:pw@127.0.0.1/db",
     "DATASET_API_DATABASE_URL must be a postgresql:// URL, not mysql://"),
    ("DATASET_API_DATABASE_URL", "", "DATASET_API_DATABASE_URL must not be empty"),
]


@pytest.mark.parametrize("variable, value, message", BAD)
def test_a_bad_setting_is_one_line_in_the_console_command(tmp_path, variable, value, message):
    result = run(tmp_path, "keys", "list", **{variable: value})
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")


@pytest.mark.parametrize("variable, value, message", BAD[:2])
def test_a_bad_setting_is_one_line_in_the_flask_cli(tmp_path, variable, value, message):
    env = {**environment(tmp_path / "db.json"), variable: value}
    result = subprocess.run([BIN / "flask", "--app", "wsgi", "keys", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (1, f"Error: {message}\n")


@pytest.mark.parametrize("variable, value, message", BAD[:2] + BAD[-2:-1] + [
    ("WEB_CONCURRENCY", "two", "WEB_CONCURRENCY must be a whole number above 0, not 'two'"),
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be a whole number above 0, not '0'"),
])
def test_serve_refuses_a_bad_setting_in_one_line(tmp_path, variable, value, message):
    result = run(tmp_path, "serve", "-b", f"127.0.0.1:{free_port()}", **{variable: value})
    assert result.returncode != 0
    reasons = [line for line in result.stderr.splitlines() if "Traceback" in line
               or message in line]
    assert len(reasons) == 1 and message in reasons[0], result.stderr
