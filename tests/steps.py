"""The README's shell steps run in a temporary folder standing for `/`, and the commands of
the systemd units they install, started as systemd would start them."""

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import requests

from harness.live import ROOT, TIMEOUT

README = ROOT / "README.md"
# Lines acting on the machine's users and services are left out: the tests check the units
# with systemd-analyze and start their commands themselves.
MACHINE = re.compile(r"(?:useradd|userdel|systemctl|nginx) ")
SYSTEM_PATH = re.compile(r"(?<![\w.])/(opt|etc|var)/")
SUDO = re.compile(r"\bsudo -u \S+ ")
SKELETON = ("opt", "etc/systemd/system", "etc/nginx/conf.d", "var/lib")  # what a machine has
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# ProtectHome=yes: /home, /root and /run/user are empty for the service. The checkout is
# hidden too, so that nothing the service runs can come from it.
HIDDEN = ("/home", "/root", "/run/user", str(ROOT))
UNSHARE = ("unshare", "--map-root-user", "--mount")  # a mount namespace, for any user
HIDE = ('while [ "$1" != -- ]; do if [ -d "$1" ]; then mount -t tmpfs tmpfs "$1" || exit 1; fi; '
        'shift; done; shift; exec "$@"')
INSTALL_TIME = 300  # seconds for a block that installs packages


def machine(root):
    """A folder standing for `/`, with the folders a machine has."""
    for folder in SKELETON:
        (root / folder).mkdir(parents=True)
    return root


def tree(root):
    """Every file and folder under `root`, as paths relative to it."""
    return {str(path.relative_to(root)) for path in Path(root).rglob("*")}


def blocks(heading):
    """The sh blocks of the README's section `### heading`, in order."""
    section = README.read_text().split(f"\n### {heading}\n", 1)[1]
    section = re.split(r"\n##+ ", section, maxsplit=1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def rewrite(text, root):
    """`text` with /opt, /etc and /var under `root`, and commands run as they are, not sudo'd."""
    return SYSTEM_PATH.sub(lambda match: f"{root}/{match[1]}/", SUDO.sub("", text))


def run(block, root, cwd=ROOT, env=None, before=""):
    """Run a README block in bash, under `root`, without the lines on users and services."""
    lines = [line for line in block.splitlines() if not MACHINE.match(line)]
    script = before + rewrite("\n".join(lines), root)
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd,
                            env=env or os.environ, capture_output=True, text=True,
                            timeout=INSTALL_TIME)
    assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
    return result


def units(root, folder):
    """The units installed under `root`, copied to `folder` with their paths under `root`."""
    folder.mkdir(exist_ok=True)
    for unit in (root / "etc/systemd/system").glob("ragflow-dataset-api*"):
        (folder / unit.name).write_text(rewrite(unit.read_text(), root))
    return folder


def settings(unit):
    """A unit file's settings: {name: [value, ...]}."""
    found = {}
    for line in Path(unit).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            found.setdefault(name, []).append(value)
    return found


def environment(unit):
    """The environment systemd gives the unit's command: Environment=, then EnvironmentFile=."""
    found = settings(unit)
    env = {"PATH": SYSTEMD_PATH}
    env.update(item.split("=", 1) for item in found.get("Environment", []))
    for path in found.get("EnvironmentFile", []):
        path = Path(path.removeprefix("-"))
        if path.exists():
            env.update(line.split("=", 1) for line in path.read_text().splitlines()
                       if "=" in line and not line.startswith("#"))
    return env


def command(unit):
    """The unit's ExecStart, as a list of arguments."""
    return shlex.split(settings(unit)["ExecStart"][0])


def start(unit, root, args=None, output=subprocess.DEVNULL):
    """Start `args` (the unit's ExecStart if None) as systemd would start the unit: its
    folders made, in its working folder, with its environment, /home, /root and /run/user
    hidden; in a process group of its own."""
    found = settings(unit)
    for name in " ".join(found.get("StateDirectory", [])).split():
        (root / "var/lib" / name).mkdir(mode=0o700, exist_ok=True)
    return subprocess.Popen([*UNSHARE, "sh", "-c", HIDE, "sh", *HIDDEN, "--",
                             *(args or command(unit))],
                            cwd=found["WorkingDirectory"][0], env=environment(unit),
                            stdout=output, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def stop(process):
    """SIGTERM to its group, as systemd stops a unit; SIGKILL to what is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(TIMEOUT)


@contextlib.contextmanager
def serving(process, url, wait=TIMEOUT):
    """Wait up to `wait` seconds for `process` to answer 200 at `url`/healthz; stop it after
    the block."""
    try:
        deadline = time.monotonic() + wait
        while True:
            assert process.poll() is None, f"exited with {process.returncode}"
            assert time.monotonic() < deadline, f"no answer at {url} in {wait} s"
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        stop(process)
