"""The hostile streams of the soak run (bench/soak.py): each runs in a process of its own
until its deadline or its count, and returns what it got as a Counter of labels."""

import http.client
import socket
import threading
import time
from collections import Counter

HOST = "127.0.0.1"
SECONDS = " (s)"  # a label ending so holds the seconds its answers took in all


def raw_request(path, key):
    return (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
            f"Connection: close\r\n\r\n").encode()


def threads(count, work, *args):
    """Run `work(counter, *args)` in `count` threads; the sum of their counters."""
    counters = [Counter() for _ in range(count)]
    running = [threading.Thread(target=work, args=(c, *args)) for c in counters]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return sum(counters, Counter())


def loop(counter, port, key, paths, deadline, limit, interval):
    """Keep-alive GETs of `paths` in turn, one every `interval` seconds at most, until
    `deadline` or `limit` of them; counted as 'path-name status', timed as
    'path-name status (s)'."""
    conn, n, sent = None, 0, 0.0
    while time.monotonic() < deadline and n < limit:
        time.sleep(max(0.0, sent + interval - time.monotonic()) if n else 0)
        name, path = paths[n % len(paths)]
        n += 1
        sent = time.monotonic()
        try:
            conn = conn or http.client.HTTPConnection(HOST, port, timeout=30)
            conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
            answer = conn.getresponse()
            answer.read()
            counter[f"{name} {answer.status}"] += 1
            counter[f"{name} {answer.status}{SECONDS}"] += time.monotonic() - sent
            if answer.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as err:
            counter[f"{name} {type(err).__name__}"] += 1
            conn = conn and conn.close()


# The offered rates are bounded: on loopback the clients take the cores the server needs,
# where a real attacker's clients would run elsewhere.
def huge_lists(port, key, size, deadline, connections=2, limit=4000):
    """Lists as large and as deep as the APIs take, from the hostile key, 20 a second on
    each connection (twice nginx's rate for a key, in all)."""
    paths = [("legacy count=-1", "/api/v1/dataset?count=-1"),
             ("legacy count=10000", "/api/v1/dataset?count=10000"),
             (f"legacy offset={size - 100}", f"/api/v1/dataset?offset={size - 100}&count=100"),
             (f"current page={size // 100} page_size=100",
              f"/api/v1/datasets?page={size // 100}&page_size=100")]
    return threads(connections, loop, port, key, paths, deadline, limit // connections, 0.05)


def flood(port, key, size, deadline, connections=32, limit=200000):
    """First pages from one key on `connections` at once, 1,000 a second in all (fifty
    times nginx's rate for a key)."""
    paths = [("first page", "/api/v1/datasets?page_size=30")]
    return threads(connections, loop, port, key, paths, deadline, limit // connections,
                   connections / 1000)


def answer_status(sock):
    """The status of the answer on `sock` ('no answer' if it closes first)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1024)
        if not chunk:
            return "no answer"
        head += chunk
    return head.split(b" ", 2)[1].decode()


def slow_sender(counter, port, key, deadline, pause=0.2, step=4):
    """Requests sent `step` bytes every `pause` seconds, again and again until `deadline`."""
    # (each request takes some 40 pauses: a few a second on each connection at most)
    data = raw_request("/api/v1/datasets?page_size=30", key)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), 30) as sock:
                for at in range(0, len(data), step):
                    if time.monotonic() >= deadline:
                        counter["cut at the end while sending"] += 1
                        return
                    sock.sendall(data[at:at + step])
                    time.sleep(pause)
                counter[f"sent whole, answered {answer_status(sock)}"] += 1
        except OSError as err:
            counter[type(err).__name__] += 1


def slow_reader(counter, port, key, deadline, rate=64 * 1024):
    """A 10,000-dataset list read at `rate` bytes a second, through a small receive buffer,
    again and again until `deadline`."""
    data = raw_request("/api/v1/dataset?count=10000", key)
    while time.monotonic() < deadline:
        try:
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.settimeout(30)
                sock.connect((HOST, port))
                sock.sendall(data)
                status, got = answer_status(sock), 0
                while time.monotonic() < deadline:
                    chunk = sock.recv(4096)
                    if not chunk:
                        counter[f"{status}, read whole"] += 1
                        break
                    got += len(chunk)
                    time.sleep(len(chunk) / rate)
                else:
                    counter[f"{status}, cut at the end"] += 1
                counter["KiB read, in all"] += got // 1024
            time.sleep(0.5)  # two requests a second on each connection at most
        except OSError as err:
            counter[type(err).__name__] += 1


def slow_senders(port, key, size, deadline, connections=16):
    return threads(connections, slow_sender, port, key, deadline)


def slow_readers(port, key, size, deadline, connections=8):
    return threads(connections, slow_reader, port, key, deadline)


STREAMS = {"huge lists": huge_lists, "flood from one key": flood,
           "slow senders": slow_senders, "slow readers": slow_readers}


def run(name, port, key, size, seconds, results):
    """Process body: run stream `name` for `seconds`; put (name, counter, seconds taken)."""
    start = time.monotonic()
    counter = STREAMS[name](port, key, size, start + seconds)
    results.put((name, dict(counter), time.monotonic() - start))
