"""PostgreSQL mistakes said plainly: the last line names the cause, at once; a URL that names
no PostgreSQL database is refused before anything waits; libraries log in the server's
format, one line each."""

import re
import socket
import time

import psycopg
import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from app import console, create_app
from app.settings import ConfigError
from app.store import StoreError
from harness import pgserver
from harness.live import TIMEOUT, Server, cli, issue_key
from harness.pgserver import free_port

LINE = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[(DEBUG|INFO|WARNING|"
                  r"ERROR|CRITICAL)\] \S+ \S+ .+")  # app/serving/logs.py's FORMAT


@pytest.fixture(scope="module")
def database(postgres):
    """(server, the URL of a database on it with a role that needs its password)."""
    postgres.require_password("keeper", "right-pw")
    pgserver.create_database(postgres.url(), "kept")
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute("ALTER DATABASE kept OWNER TO keeper")  # its schema public, too
    return postgres, f"postgresql://keeper:right-pw@127.0.0.1:{postgres.port}/kept"


def failure(url, tmp_path):
    """`store check` on `url` through the installed command's group: (its output's last line,
    seconds it took)."""
    started = time.monotonic()
    result = CliRunner().invoke(console.main, ["store", "check"],
                                obj=ScriptInfo(create_app=console.load_app),
                                env={"DATASET_API_DATABASE_URL": url,
                                     "DATASET_API_DB_PATH": str(tmp_path / "db.json")})
    took = time.monotonic() - started
    assert result.exit_code == 1, result.output
    return result.output.splitlines()[-1], took


def test_the_right_password_works(database, tmp_path):
    assert issue_key(tmp_path / "unused.json", database_url=database[1])


@pytest.mark.parametrize("change, cause", [
    (lambda url: url.replace("right-pw", "wrong-pw"),
     'password authentication failed for user "keeper"'),
    (lambda url: url.replace("/kept", "/missing"), 'database "missing" does not exist'),
    (lambda url: url.replace(url.rsplit(":", 1)[1].split("/")[0], str(free_port())),
     "Connection refused"),
])
def test_the_last_line_names_the_cause_at_once(database, tmp_path, change, cause):
    """From a command, and from the store as the server starts (gunicorn's check)."""
    url = change(database[1])
    where = url.replace(":right-pw", "").replace(":wrong-pw", "")
    said = (rf'{re.escape(where)}: connection to server at "127\.0\.0\.1", port \d+ failed: '
            rf'{re.escape(cause)}')
    line, took = failure(url, tmp_path)
    assert re.fullmatch(f"Error: {said}", line) and took < 2, (line, took)  # no pool's wait
    store = create_app({"DB_PATH": str(tmp_path / "db.json"), "DATABASE_URL": url}).extensions[
        "store"]
    started = time.monotonic()
    with pytest.raises(StoreError) as refusal:
        store.check()
    assert re.fullmatch(said, str(refusal.value)) and time.monotonic() - started < 2


def test_a_server_that_never_answers_is_a_timeout(tmp_path):
    """Connections taken and never answered, as by a host that hangs: the connect's
    deadline (3 s), said as such."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        line, took = failure(f"postgresql://keeper@127.0.0.1:{port}/kept", tmp_path)
    assert line == f"Error: postgresql://keeper@127.0.0.1:{port}/kept: connection timeout expired"
    assert 2.5 < took < 5


@pytest.mark.parametrize("url, message", [
    ("mysql://root:pw-s3cret@127.0.0.1/kept", "must be a postgresql:// URL, not mysql://"),
    ("", "must not be empty"),
    (" ", "must not be empty"),
    ("postgresql://", "names no server or database"),
    ("postgresql://root:pw-s3cret@[::1/kept", "does not parse as a PostgreSQL URL"),
    ("host=127.0.0.1 password=pw-s3cret dbname", "does not parse as a PostgreSQL URL"),
])
def test_a_url_that_names_no_postgresql_database_is_refused_at_once(url, message, tmp_path):
    """Before anything connects or waits, without the URL (it may hold the password), and
    never taken as no URL (the JSON file)."""
    line, took = failure(url, tmp_path)
    assert line == f"Error: DATASET_API_DATABASE_URL {message}" and took < 1
    with pytest.raises(ConfigError, match=f"^DATASET_API_DATABASE_URL {re.escape(message)}$"):
        create_app({"DB_PATH": str(tmp_path / "db.json"), "DATABASE_URL": url})
    assert not list(tmp_path.iterdir())


@pytest.mark.live
def test_libraries_log_in_the_servers_format_while_postgresql_is_down(database, tmp_path):
    """PostgreSQL killed under gunicorn: psycopg_pool's lines about it come in the server's
    format, one line each, and the 503's own line names the cause."""
    postgres, url = database
    key = issue_key(tmp_path / "unused.json", database_url=url)
    server = Server(tmp_path / "unused.json", tmp_path, database_url=url).start().ready()
    try:
        assert server.request("GET", "/api/v1/datasets", key).status_code == 200
        postgres.kill()
        deadline = time.monotonic() + TIMEOUT
        while True:  # a request at least: the parsers may have met the fault first
            assert server.request("GET", "/api/v1/datasets", key).status_code == 503
            if "error connecting in" in server.stderr() or time.monotonic() > deadline:
                break
    finally:
        server.kill()
        postgres.start()
    lines = server.stderr().splitlines()
    assert [line for line in lines if not LINE.fullmatch(line)] == []
    pool = [line for line in lines if "error connecting in" in line]
    # While the server dies, a reconnect may meet it shutting down; then it refuses them.
    assert all("[WARNING]" in line for line in pool)
    assert any("Connection refused" in line for line in pool)
    busy = [line for line in lines if "Store busy" in line]
    assert busy and all(line.endswith("failed: Connection refused") for line in busy), busy
    assert "right-pw" not in server.stderr() + server.stdout()
    assert cli(tmp_path / "unused.json", "store", "check", database_url=url).returncode == 0
