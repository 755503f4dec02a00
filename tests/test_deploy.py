"""The deploy/ files: the systemd units' settings, `Type=notify` honoured, and the README
showing the shipped files as they are."""

import socket
import subprocess

import pytest

from harness.live import BIN, ROOT, TIMEOUT, environment, free_port
from tests import steps

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "ragflow-dataset-api.service"
BACKUP = DEPLOY / "ragflow-dataset-api-backup.service"


@pytest.mark.parametrize("unit", [UNIT, BACKUP], ids=lambda unit: unit.name)
def test_the_units_run_an_unprivileged_user_alone_in_its_folder(unit):
    """Checked with systemd-analyze, as installed, by tests/test_install.py."""
    found = {name: values[-1] for name, values in steps.settings(unit).items()}
    assert found["User"] == found["Group"] == "ragflow-dataset-api"
    assert found["StateDirectory"].split()[0] == "ragflow-dataset-api"
    assert found["StateDirectoryMode"] == "0700" and found["UMask"] == "0077"
    assert found["ProtectSystem"] == "strict"  # the state folders are all it may write
    assert found["ProtectHome"] == found["PrivateTmp"] == found["NoNewPrivileges"] == "yes"
    assert "DATASET_API_DB_PATH=/var/lib/ragflow-dataset-api/db.json" in \
        steps.settings(unit)["Environment"]
    assert found["EnvironmentFile"] == "-/etc/ragflow-dataset-api.env"


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
    for shipped in (DEPLOY / "nginx.conf", *DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")):
        assert shipped.read_text() in readme, f"README differs from {shipped.name}"


def test_the_readme_names_no_file_outside_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "shared/" not in readme and "CONTRACT" not in readme
