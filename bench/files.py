"""Documents' throughput against ceilings on the same machine: `make bench` runs it after the
dataset benchmark, or `.venv/bin/python bench/files.py --quick`.

Downloads of a 10 MB file are compared with nginx serving the same file statically; uploads
with a bare Flask view that streams the body to disk (synced, as the store syncs), under the
same gunicorn; parsing is timed on 1 MB text documents from upload to DONE."""

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from harness import live, pgserver  # noqa: E402
from harness.nginx import NGINX  # noqa: E402

MB = 1 << 20
BOUNDARY = "benchb0undary"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    add = parser.add_argument
    add("--engines", default="json,postgres", help="our engines: json, postgres (both)")
    add("--seconds", type=float, default=5, help="seconds of each measured run (5)")
    add("--repeats", type=int, default=3, help="rounds; medians reported (3)")
    add("--clients", type=int, default=4, help="requests at once (4)")
    add("--parse-docs", type=int, default=8, help="1 MB documents parsed per round (8)")
    add("--quick", action="store_true", help="one round of 2-second runs")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats = 2, 1
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    return args


def multipart(name, data):
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def call(port, method, path, key=None, body=None, json_body=False):
    """(status, bytes read) of one request; the answer is read in 1 MB pieces and dropped."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if body is not None:
            headers["Content-Type"] = ("application/json" if json_body else
                                       f"multipart/form-data; boundary={BOUNDARY}")
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        size = 0
        while piece := response.read(MB):
            size += len(piece)
        return response.status, size
    finally:
        connection.close()


def throughput(port, method, path, key, body, seconds, clients):
    """MB/s moved by `clients` loops of the request for `seconds` (each request's file)."""
    moved, stop, lock = [0], time.monotonic() + seconds, threading.Lock()

    def loop():
        while time.monotonic() < stop:
            status, size = call(port, method, path, key, body)
            assert status == 200, (status, path)
            with lock:
                moved[0] += len(body) if body else size
    threads = [threading.Thread(target=loop) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return moved[0] / MB / (time.monotonic() - started)


class StaticNginx:
    """nginx serving one folder's files, as the download ceiling."""

    def __init__(self, folder):
        self.folder, self.port = folder, live.free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        temp = " ".join(f"{kind}_temp_path {folder}/{kind};"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (folder / "nginx.conf").write_text(
            f"{user} worker_processes 1; pid {folder}/nginx.pid; events {{}}\n"
            f"http {{ {temp} access_log off; sendfile on; server {{ "
            f"listen 127.0.0.1:{self.port}; root {folder}/www; }} }}\n")
        self.process = subprocess.Popen([NGINX, "-p", str(folder), "-c",
                                         str(folder / "nginx.conf"), "-e",
                                         str(folder / "error.log"), "-g", "daemon off;"],
                                        start_new_session=True)
        wait_listening(self.port)

    def stop(self):
        self.process.terminate()
        self.process.wait(live.TIMEOUT)


def wait_listening(port):
    import socket
    deadline = time.monotonic() + live.TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def bare_upload_server(folder):
    """The upload ceiling: gunicorn (as ours is run) serving bench/bare_upload.py."""
    port = live.free_port()
    env = {**os.environ, "BARE_UPLOAD_FOLDER": str(folder)}
    process = subprocess.Popen([live.BIN / "gunicorn", "bench.bare_upload:app", "-b",
                                f"127.0.0.1:{port}", "-w", str(live.WORKERS)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    wait_listening(port)
    return process, port


class Ours:
    """Our gunicorn on one engine, a key and a dataset."""

    def __init__(self, engine, folder, database_url=None):
        self.engine, db = engine, folder / "db.json"
        self.key = live.issue_key(db, database_url=database_url)
        self.server = live.Server(db, folder, database_url=database_url).start().ready()
        self.port = int(self.server.url.rsplit(":", 1)[1])
        answer = self.server.request("POST", "/api/v1/datasets", self.key,
                                     json={"name": "bench"}).json()
        self.base = f"/api/v1/datasets/{answer['data']['id']}"

    def upload(self, name, data):
        answer = self.server.request("POST", self.base + "/documents", self.key,
                                     files=[("file", (name, data))]).json()
        assert answer["code"] == 0, answer
        return answer["data"][0]["id"]

    def clear(self):
        self.server.request("DELETE", self.base + "/documents", self.key,
                            json={"delete_all": True})

    def parse_seconds(self, count):
        """Seconds from asking for the parse of `count` 1 MB documents to the last DONE."""
        text = "\n".join(f"Line {i} of a document to parse, with a few words more."
                         for i in range(MB // 60)).encode()[:MB]
        ids = [self.upload(f"p{n}.txt", text) for n in range(count)]
        started = time.monotonic()
        self.server.request("POST", self.base + "/chunks", self.key, json={"document_ids": ids})
        while True:
            docs = self.server.request("GET", self.base + "/documents", self.key,
                                       params={"page_size": 100}).json()["data"]["docs"]
            if all(d["run"] in ("DONE", "FAIL") for d in docs if d["id"] in ids):
                assert all(d["run"] == "DONE" for d in docs if d["id"] in ids)
                return time.monotonic() - started
            time.sleep(0.01)

    def stop(self):
        self.server.kill()


def main():
    args = parse_args()
    data = b"".join(bytes([65 + n % 26]) * MB for n in range(10))  # 10 MB
    body = multipart("ten.txt", data)
    results = {}  # (measure, system) -> [figures]
    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
        tmp = Path(tmp)
        (tmp / "www").mkdir()
        (tmp / "www" / "ten.txt").write_bytes(data)
        (tmp / "bare").mkdir()
        nginx = StaticNginx(tmp)
        bare, bare_port = bare_upload_server(tmp / "bare")
        postgres = pgserver.Server() if "postgres" in args.engines else None
        ours = []
        try:
            for engine in args.engines:
                folder = tmp / engine
                folder.mkdir()
                url = pgserver.create_database(postgres.url(), "bench_files") \
                    if engine == "postgres" else None
                ours.append(Ours(engine, folder, url))
            for round_ in range(args.repeats):
                print(f"round {round_ + 1} of {args.repeats}", flush=True)
                note = results.setdefault
                note(("download", "nginx static"), []).append(throughput(
                    nginx.port, "GET", "/ten.txt", None, None, args.seconds, args.clients))
                note(("upload", "bare Flask view"), []).append(throughput(
                    bare_port, "POST", "/upload", None, body, args.seconds, args.clients))
                for system in ours:
                    document = system.upload("ten.txt", data)
                    note(("download", system.engine), []).append(throughput(
                        system.port, "GET", f"{system.base}/documents/{document}", system.key,
                        None, args.seconds, args.clients))
                    note(("upload", system.engine), []).append(throughput(
                        system.port, "POST", f"{system.base}/documents", system.key, body,
                        args.seconds, args.clients))
                    system.clear()
                    note(("parse: 1 MB documents a second", system.engine), []).append(
                        args.parse_docs / system.parse_seconds(args.parse_docs))
                    system.clear()
                    note(("parse: seconds to DONE for one 1 MB document", system.engine),
                         []).append(system.parse_seconds(1))
                    system.clear()
        finally:
            for system in ours:
                system.stop()
            nginx.stop()
            os.killpg(bare.pid, 15)
            bare.wait(live.TIMEOUT)
            if postgres:
                postgres.stop()
    report(results)


def report(results):
    median = {key: statistics.median(values) for key, values in results.items()}
    ceilings = {"download": median[("download", "nginx static")],
                "upload": median[("upload", "bare Flask view")]}
    print("\n| measure | system | MB/s, or as the measure says | ratio to the ceiling |")
    print("|---|---|---|---|")
    for (measure, system), value in median.items():
        ceiling = ceilings.get(measure)
        ratio = f"{value / ceiling:.2f}x" if ceiling and value != ceiling else "ceiling"
        print(f"| {measure} | {system} | {value:.2f} | {ratio if ceiling else '-'} |")


if __name__ == "__main__":
    main()
