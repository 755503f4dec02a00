"""Installing it as a service, from this checkout (which has a .venv and data/): the README's
install, upgrade and uninstall steps run in a folder standing for `/`, their units checked
with systemd-analyze and their commands started as systemd would; and `make serve`."""

import json
import os
import re
import subprocess

import pytest
import requests

from harness.live import BIN, ROOT, TIMEOUT, free_port
from tests import steps
from tests.edge import need

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

PREFIX = "opt/ragflow-dataset-api"
SERVICE, BACKUP = "ragflow-dataset-api.service", "ragflow-dataset-api-backup.service"
TIMER = "ragflow-dataset-api-backup.timer"
STORE, BACKUPS = "var/lib/ragflow-dataset-api", "var/lib/ragflow-dataset-api-backups"
INSTALLED = {PREFIX, f"{PREFIX}/.venv", f"{PREFIX}/backup.sh", "etc/ragflow-dataset-api.env",
             f"etc/systemd/system/{SERVICE}", f"etc/systemd/system/{BACKUP}",
             f"etc/systemd/system/{TIMER}", "etc/nginx/conf.d/ragflow-dataset-api.conf"}
BIND = "127.0.0.1:9380"  # the unit's


@pytest.fixture
def root(tmp_path):
    need("/usr/bin/python3", "python3-venv")  # the install steps' Python
    probe = subprocess.run([*steps.UNSHARE, "true"], capture_output=True, text=True)
    if probe.returncode:  # ProtectHome is played by a mount namespace of the test's own
        reason = f"unshare cannot make a mount namespace here: {probe.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"CI needs it: {reason}")
        pytest.skip(reason)
    return steps.machine(tmp_path / "root")


def install(root):
    steps.run(steps.blocks("Installing")[0], root)
    # The admin's settings: fewer workers than the machine's default.
    (root / "etc/ragflow-dataset-api.env").write_text("WEB_CONCURRENCY=2\n")


def unit(root, name):
    """The installed unit `name`, its paths under `root`."""
    return steps.units(root, root.parent / "units") / name


def installed(root, *args):
    """Run the installed command with the service's settings; its output."""
    result = subprocess.run([root / PREFIX / ".venv/bin/ragflow-dataset-api", *args],
                            cwd=root / STORE, env=steps.environment(unit(root, SERVICE)),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def service(root, log):
    """The installed service, started from its unit on a free port, while in the block."""
    bind = f"127.0.0.1:{free_port()}"
    args = [bind if arg == BIND else arg for arg in steps.command(unit(root, SERVICE))]
    process = steps.start(unit(root, SERVICE), root, args, output=log)
    return steps.serving(process, f"http://{bind}")


def use(url, key):
    """Make a dataset through each API; the names the legacy list answers."""
    for path in ("/api/v1/datasets", "/api/v1/dataset"):
        made = requests.post(url + path, json={"name": path.rsplit("/", 1)[1]},
                             headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT)
        assert made.json()["code"] == 0, made.text
    return names(url, key)


def names(url, key):
    listed = requests.get(f"{url}/api/v1/dataset", headers={"Authorization": f"Bearer {key}"},
                          timeout=TIMEOUT)
    assert listed.status_code == 200, listed.text
    return sorted(dataset["name"] for dataset in listed.json()["data"])


def serve_and_use(root, log):
    """Start the service, make a key and two datasets, stop it; the key."""
    with open(log, "a") as output, service(root, output) as url:
        key = installed(root, "keys", "create", "--name", "admin").splitlines()[-1]
        assert use(url, key) == ["dataset", "datasets"]
    return key


def test_install_then_uninstall(root, tmp_path):
    """Installed from the committed source alone, it serves; uninstalled, it leaves the data
    unless told."""
    before = steps.tree(root)
    install(root)
    added = steps.tree(root) - before
    venv = root / PREFIX / ".venv"
    assert {path for path in added if not path.startswith(f"{PREFIX}/.venv/")} == INSTALLED
    assert not [path for path in added if re.search(r"(^|/)db\.json", path)]  # no data/
    assert (root / "etc/ragflow-dataset-api.env").stat().st_mode & 0o777 == 0o600
    # The system's Python, which ProtectHome=yes leaves in sight, not the checkout's.
    python = os.path.realpath(venv / "bin/python")
    assert not python.startswith(("/root/", "/home/", f"{ROOT}/")), python

    serve_and_use(root, tmp_path / "service.log")
    assert (tmp_path / "service.log").read_text().count("Booting worker") == 2  # the .env's
    # The package's code, not the checkout's: imported from the venv, the checkout hidden.
    where = steps.start(unit(root, SERVICE), root, [venv / "bin/python", "-c",
                                                    "import app; print(app.__file__)"],
                        output=subprocess.PIPE)
    assert where.communicate(timeout=TIMEOUT)[0].startswith(f"{venv}/lib/")
    # The backup unit's command, as its timer starts it: a dated export of the store.
    backup = steps.start(unit(root, BACKUP), root, output=subprocess.PIPE)
    said = backup.communicate(timeout=TIMEOUT)[0]
    assert backup.returncode == 0 and "Backed up to" in said, said
    (made,) = (root / BACKUPS).iterdir()
    assert re.fullmatch(r"ragflow-dataset-api-[0-9-]{10}T[0-9]{6}Z\.json", made.name)
    assert len(json.loads(made.read_text())["keys"]) == 1

    data = {path for path in steps.tree(root) if path.startswith((STORE, BACKUPS))}
    uninstall, purge = steps.blocks("Uninstalling")
    steps.run(uninstall, root)
    assert steps.tree(root) == before | data | {"etc/ragflow-dataset-api.env"}
    # The store as it was, for an install to come (checked by the checkout's command).
    check = subprocess.run([BIN / "ragflow-dataset-api", "store", "check"], cwd=root / STORE,
                           env={**os.environ, "DATASET_API_DB_PATH": str(root / STORE / "db.json")},
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert "sound (1 keys, 1 tenants, 2 datasets)" in check.stdout, check.stderr
    steps.run(purge, root)
    assert steps.tree(root) == before


def next_version(folder):
    """A checkout of a later version than this one (setup.cfg's version, .post1); its version."""
    folder.mkdir()
    subprocess.run(f"git archive HEAD | tar -x -C {folder}", shell=True, cwd=ROOT, check=True)
    setup = folder / "setup.cfg"
    text, found = re.subn(r"(?m)^version = (.+)$", r"version = \1.post1", setup.read_text())
    assert found == 1
    setup.write_text(text)
    git = ["git", "-c", "user.name=next", "-c", "user.email=next@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "next"]):
        subprocess.run(git + args, cwd=folder, check=True, capture_output=True)
    return re.search(r"(?m)^version = (.+)$", text)[1]


def test_upgrade_keeps_the_store(root, tmp_path):
    install(root)
    key = serve_and_use(root, tmp_path / "service.log")
    version = next_version(tmp_path / "next")
    assert installed(root, "--version").split()[-1] != version
    steps.run(steps.blocks("Upgrading")[0], root, cwd=tmp_path / "next")
    assert installed(root, "--version").split()[-1] == version
    with open(tmp_path / "service.log", "a") as log, service(root, log) as url:
        assert names(url, key) == ["dataset", "datasets"]

    need("/usr/bin/systemd-analyze", "systemd")
    # The units as installed, their paths under `root`: their commands must be there.
    verified = subprocess.run(["systemd-analyze", "verify", SERVICE, BACKUP, TIMER],
                              cwd=unit(root, SERVICE).parent, capture_output=True,
                              text=True, timeout=TIMEOUT)
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stderr


def make_serve(venv, log, env, *args):
    """`make serve` with the venv at `venv`, in a process group of its own."""
    return subprocess.Popen(["make", "-C", ROOT, "serve", f"VENV={venv}", *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_make_serve_installs_only_what_serving_needs(tmp_path):
    venv, port = tmp_path / "venv", free_port()
    env = {**os.environ, "DATASET_API_DB_PATH": str(tmp_path / "db.json"),
           "WEB_CONCURRENCY": "2"}
    with open(tmp_path / "make.log", "w") as log:
        make = make_serve(venv, log, env, f"PORT={port}")
        with steps.serving(make, f"http://127.0.0.1:{port}", wait=steps.INSTALL_TIME):
            pass
        # gunicorn's own variables: its options, over WEB_CONCURRENCY.
        port = free_port()
        env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{port} --workers 1"
        with steps.serving(make_serve(venv, log, env), f"http://127.0.0.1:{port}"):
            pass
    output = (tmp_path / "make.log").read_text()
    runs = output.split("Listening at: ")[1:]
    assert [run.count("Booting worker") for run in runs] == [2, 1], output
    listed = subprocess.run([venv / "bin/python", "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, timeout=TIMEOUT, check=True)
    packages = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert {"ragflow-dataset-api", "gunicorn", "psycopg"} <= packages
    assert not packages & {"pytest", "ragflow-sdk", "hypothesis", "playwright", "tinydb"}


def test_the_readmes_helper_acts_on_the_services_store(tmp_path, postgres_url):
    """`dataset_api` reads the service's environment file: on PostgreSQL, its database."""
    [helper] = [block for block in steps.blocks("Installing") if "dataset_api()" in block]
    root = steps.machine(tmp_path / "root")
    command = root / PREFIX / ".venv" / "bin" / "ragflow-dataset-api"
    command.parent.mkdir(parents=True)
    command.symlink_to(BIN / "ragflow-dataset-api")
    (root / "etc" / "ragflow-dataset-api.env").write_text(
        f"# the service's settings\n\nDATASET_API_DATABASE_URL={postgres_url}\n"
        f"WEB_CONCURRENCY=2\n")
    script = helper.replace("dataset_api keys create", "dataset_api store init\n"
                                                      "dataset_api keys create")
    result = steps.run(script, root, cwd=tmp_path)
    assert "Store: PostgreSQL" in result.stderr.splitlines()[0], result.stderr
    from app import create_app

    store = create_app({"DB_PATH": str(tmp_path / "unused.json"),
                        "DATABASE_URL": postgres_url}).extensions["store"]
    assert [key["name"] for key in store.list_keys()] == ["laptop"]
    assert not (root / STORE).exists()  # no JSON store was made beside the service's
