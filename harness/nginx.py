"""A real nginx running the shipped deploy/nginx.conf on loopback ports."""

import os
import re
import socket
import subprocess
import time

from harness.live import ROOT, TIMEOUT, free_port

NGINX = "/usr/sbin/nginx"


class Nginx:
    """nginx running deploy/nginx.conf, ports and paths templated into a copy in `folder`."""

    def __init__(self, folder, backend_port, *changes):
        """`changes`: more (shipped text, test's text) pairs to put in the copy."""
        folder.mkdir(exist_ok=True)
        self.folder, self.port = folder, free_port()
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        for shipped, here in [("server 127.0.0.1:9380;", f"server 127.0.0.1:{backend_port};"),
                              ("listen 80;", f"listen 127.0.0.1:{self.port};"),
                              ("/var/log/nginx/", f"{folder}/"), *changes]:
            assert shipped in site, f"deploy/nginx.conf no longer has {shipped!r}"
            site = site.replace(shipped, here)
        (folder / "site.conf").write_text(site)
        temp = " ".join(f"{kind}_temp_path {folder}/{kind};"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;" if os.geteuid() == 0 else ""  # workers write the test's folder
        (folder / "nginx.conf").write_text(
            f"{user} worker_processes 1; pid {folder}/nginx.pid;\n"
            f"events {{ worker_connections 64; }}\n"
            f"http {{ {temp} include {folder}/site.conf; }}\n")
        self.process = None

    def command(self, *args):
        return [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                "-e", str(self.folder / "error.log"), *args]

    def start(self):
        check = subprocess.run(self.command("-t"), capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(self.command("-g", "daemon off;"),
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.error_log()
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nginx did not listen in {TIMEOUT} s:\n{self.error_log()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(TIMEOUT)

    def access_log(self):
        path = self.folder / "ragflow-dataset-api.access.log"
        return path.read_text() if path.exists() else ""

    def error_log(self):
        path = self.folder / "error.log"
        return path.read_text() if path.exists() else ""


def wait_for(pattern, read):
    """The first match of `pattern` in what `read()` returns, waiting for it to be logged."""
    deadline = time.monotonic() + TIMEOUT
    while not (match := re.search(pattern, read(), re.M)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert match, f"no line matches {pattern!r}:\n{read()}"
    return match

