"""The deploy/ files: the systemd unit is valid and its `Type=notify` is honoured, and the
README shows the shipped files as they are."""

import socket
import subprocess

import pytest

from tests.edge import need
from harness.live import BIN, ROOT, TIMEOUT, environment, free_port

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "ragflow-dataset-api.service"
SHIPPED_COMMAND = "/opt/ragflow-dataset-api/.venv/bin/ragflow-dataset-api"


def test_the_unit_is_valid(tmp_path):
    need("/usr/bin/systemd-analyze", "systemd")
    unit = UNIT.read_text()
    assert SHIPPED_COMMAND in unit
    copy = tmp_path / UNIT.name  # the command where this checkout installed it
    copy.write_text(unit.replace(SHIPPED_COMMAND, str(BIN / "ragflow-dataset-api")))
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def test_the_unit_runs_an_unprivileged_user_alone_in_its_folder():
    settings = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["User"] == settings["Group"] == "ragflow-dataset-api"
    assert settings["StateDirectory"] == "ragflow-dataset-api"
    assert settings["StateDirectoryMode"] == "0700" and settings["UMask"] == "0077"
    assert settings["ProtectSystem"] == "strict"  # the state folder is all it may write
    assert settings["Environment"].startswith("DATASET_API_DB_PATH=/var/lib/ragflow-dataset-api/")


def stop(process):
    """SIGTERM, as systemd stops the unit; SIGKILL if it does not stop in time."""
    process.terminate()
    try:
        process.wait(TIMEOUT)
    finally:
        process.kill()
        process.wait(TIMEOUT)


def test_serve_tells_systemd_when_it_is_ready(tmp_path):
    """Type=notify: the unit is started only once gunicorn says READY=1."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(tmp_path / "notify"))
        notify.settimeout(TIMEOUT)
        env = {**environment(tmp_path / "db.json"), "NOTIFY_SOCKET": str(tmp_path / "notify")}
        server = subprocess.Popen([BIN / "ragflow-dataset-api", "serve", "-w", "1", "-b",
                                   f"127.0.0.1:{free_port()}"], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            message = notify.recv(1024).decode()
        finally:
            stop(server)
    assert message.startswith("READY=1")


def test_the_readme_shows_the_shipped_files():
    readme = (ROOT / "README.md").read_text()
    for shipped in (DEPLOY / "nginx.conf", UNIT):
        assert shipped.read_text() in readme, f"README differs from {shipped.name}"


def test_the_readme_names_no_file_outside_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "shared/" not in readme and "CONTRACT" not in readme
