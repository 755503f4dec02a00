"""Metrics and log lines: what each request, store operation and wait adds, in the app; and
under gunicorn's four workers, a scrape that adds up to the requests sent, JSON log lines, and
nginx's JSON access log in the same names."""

import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from harness.live import TIMEOUT, WORKERS, Server, issue_key
from tests.edge import NGINX, Nginx, need, wait_for
from tests.test_live import workers
from tests.test_openapi import damage

REQUESTS = "dataset_api_requests"
LEGACY, CURRENT = "/api/v1/dataset", "/api/v1/datasets"
NO_ID = "0" * 32


def counted(samples):
    """{(api, route, method, status): n} of the requests counter's samples."""
    return Counter({(s.labels["api"], s.labels["route"], s.labels["method"], s.labels["status"]):
                    s.value for s in samples if s.name == REQUESTS + "_total"})


def here(name):
    """The samples of metric `name` in this process."""
    return [sample for family in REGISTRY.collect() if family.name == name
            for sample in family.samples]


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_api_url_rule_method_and_status(api, current):
    before = counted(here(REQUESTS))
    api.create("kb")
    api.delete(NO_ID)
    api.client.get(LEGACY)
    current.get(NO_ID)
    current.client.get(CURRENT + "/a/b")
    current.client.open(CURRENT, method="BREW")
    api.client.get("/api/v1/system/ping")
    api.client.get("/healthz")
    added = counted(here(REQUESTS)) - before
    assert added == {
        ("legacy", LEGACY, "POST", "200"): 1,
        ("legacy", LEGACY + "/<dataset_id>", "DELETE", "404"): 1,  # the rule, never the id
        ("legacy", LEGACY, "GET", "401"): 1,
        ("current", CURRENT + "/<dataset_id>", "GET", "200"): 1,
        ("current", "unmatched", "GET", "404"): 1,
        ("current", "unmatched", "other", "405"): 1,  # methods outside HTTP's are one label
        ("current", "/api/v1/system/ping", "GET", "200"): 1,
        ("other", "/healthz", "GET", "200"): 1,
    }


def test_store_operations_and_waits_are_timed(api, config):
    wait = "pool" if config.get("DATABASE_URL") else "file_lock"
    operations, waits = (value(f"dataset_api_store_{what}_count", **labels) for what, labels in
                         [("operation_duration_seconds", {"operation": "create_dataset"}),
                          ("wait_seconds", {"wait": wait})])
    assert api.create("kb").status_code == 200
    assert value("dataset_api_store_operation_duration_seconds_count",
                 operation="create_dataset") == operations + 1
    assert value("dataset_api_store_wait_seconds_count", wait=wait) > waits


def test_store_errors_are_counted_by_operation(api):
    labels = {"operation": "find_key", "error": "StoreError"}  # the first to fail: the key's
    before = value("dataset_api_store_errors_total", **labels)
    api.create("kb")
    damage(api)
    assert api.list().status_code == 500
    assert value("dataset_api_store_errors_total", **labels) == before + 1


# The live tests: gunicorn's four workers, and nginx.

def send(server, jobs):
    """Send each (method, path, key, request id) from 8 threads; the answers' statuses."""
    def one(job):
        method, path, key, rid = job
        return server.request(method, path, key, headers={"X-Request-Id": rid},
                              json={"name": rid} if method == "POST" else None).status_code
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, jobs))


def logged(server, sent):
    """The JSON access lines of the requests whose ids are in `sent`, once all are written."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        lines = [json.loads(line) for line in server.stdout().splitlines()]
        mine = [line for line in lines if line["request_id"] in sent]
        if len(mine) == len(sent) or time.monotonic() > deadline:
            return mine
        time.sleep(0.05)


@pytest.fixture(params=["json", "postgres"])
def json_server(request, tmp_path):
    """(server, key): gunicorn, 4 workers, JSON log lines, on a new store of each engine."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    db_path = tmp_path / "db.json"
    key = issue_key(db_path, database_url=url)
    server = Server(db_path, tmp_path, database_url=url, settings={"LOG_FORMAT": "json"})
    try:
        yield server.start().ready(), key, request.param
    finally:
        server.kill()


@pytest.mark.live
def test_a_scrape_adds_up_the_requests_of_all_four_workers(json_server, tmp_path):
    """A known mix through both APIs, from 8 threads: the scrape counts exactly what was
    sent, by API, route, method and status, though each worker answered only its share."""
    server, key, engine = json_server
    mix = ([("POST", LEGACY, key, "200")] * 30 + [("DELETE", f"{LEGACY}/{NO_ID}", key, "404")] * 10
           + [("GET", LEGACY, None, "401")] * 10 + [("POST", CURRENT, key, "200")] * 30
           + [("GET", CURRENT, "ragflow-nope", "401")] * 10
           + [("GET", CURRENT + "/a/b", key, "404")] * 10)
    random.Random(25).shuffle(mix)
    jobs = [(method, path, who, f"load-{n}") for n, (method, path, who, _) in enumerate(mix)]
    assert send(server, jobs) == [int(status) for *_, status in mix]
    lines = logged(server, {rid for *_, rid in jobs})
    rounds = 0
    while len({line["pid"] for line in lines}) < WORKERS and rounds < 30:  # until each has
        more = [("GET", "/api/v1/system/ping", None, f"ping-{rounds}-{n}") for n in range(8)]
        assert send(server, more) == [200] * 8
        jobs, rounds = jobs + more, rounds + 1
        lines = logged(server, {rid for *_, rid in jobs})
    pids = Counter(line["pid"] for line in lines)
    assert len(pids) == WORKERS and sum(pids.values()) == len(jobs)

    scrape = requests.get(server.metrics_url, timeout=TIMEOUT)
    assert scrape.status_code == 200
    samples = [s for family in text_string_to_metric_families(scrape.text)
               for s in family.samples]
    sent = Counter({("legacy", LEGACY, "POST", "200"): 30,
                    ("legacy", LEGACY + "/<dataset_id>", "DELETE", "404"): 10,
                    ("legacy", LEGACY, "GET", "401"): 10,
                    ("current", CURRENT, "POST", "200"): 30,
                    ("current", CURRENT, "GET", "401"): 10,
                    ("current", "unmatched", "GET", "404"): 10,
                    ("current", "/api/v1/system/ping", "GET", "200"): 8 * rounds})
    assert +Counter({k: v for k, v in counted(samples).items() if k[0] != "other"}) == +sent
    # Each worker's counts are in a file of its own, which the scrape added up.
    files = {int(path.stem.split("_")[1]) for path in tmp_path.glob("*metrics*/counter_*.db")}
    assert set(pids) <= files

    def total(name, **labels):
        return sum(s.value for s in samples
                   if s.name == name and labels.items() <= s.labels.items())
    assert total("dataset_api_store_operation_duration_seconds_count",
                 operation="create_dataset") == 60
    wait = "pool" if engine == "postgres" else "file_lock"
    assert total("dataset_api_store_wait_seconds_count", wait=wait) >= 60
    assert total("dataset_api_store_errors_total") == 0


@pytest.mark.live
def test_json_log_lines_carry_the_request_id_and_tenant_and_never_the_key(json_server):
    server, key, _ = json_server
    made = server.request("POST", CURRENT, key, headers={"X-Request-Id": "made-1"},
                          json={"name": "kb"}).json()["data"]
    refused = server.request("GET", CURRENT, key[:-1], headers={"X-Request-Id": "refused-1"})
    assert refused.status_code == 401
    line, = logged(server, {"made-1"})
    assert datetime.fromisoformat(line.pop("time")).tzinfo is not None
    assert 0 <= line.pop("duration") < TIMEOUT and line.pop("bytes") > 0
    assert line.pop("pid") in workers(server)
    assert line.pop("message").startswith('"POST /api/v1/datasets HTTP/1.1" 200 ')
    assert line == {"level": "INFO", "client": "127.0.0.1", "request_id": "made-1",
                    "tenant_id": made["tenant_id"], "method": "POST", "route": CURRENT,
                    "uri": CURRENT, "status": 200,
                    "user_agent": requests.utils.default_user_agent()}
    line, = logged(server, {"refused-1"})
    assert (line["tenant_id"], line["status"]) == (None, 401)
    server.stop()
    everything = server.stdout() + server.stderr()
    assert all(json.loads(line) for line in everything.splitlines())  # gunicorn's own too
    assert key.removeprefix("ragflow-")[:16] not in everything


@pytest.mark.live
def test_nginx_logs_json_in_the_same_names_and_gunicorn_the_tenant(tmp_path):
    """Through the shipped nginx: its JSON access line and gunicorn's plain one (which gains
    the tenant) for the same request id."""
    need(NGINX, "nginx")
    key = issue_key(tmp_path / "db.json")
    server = Server(tmp_path / "db.json", tmp_path).start().ready()
    proxy = Nginx(tmp_path / "nginx", int(server.url.rsplit(":", 1)[1])).start()
    try:
        through = f"http://127.0.0.1:{proxy.port}"
        made = requests.post(through + CURRENT, json={"name": "kb"}, timeout=TIMEOUT,
                             headers={"Authorization": f"Bearer {key}",
                                      "X-Request-Id": "via-nginx"}).json()["data"]
        path = tmp_path / "nginx" / "ragflow-dataset-api.access.json"
        line = json.loads(wait_for(r"^.*via-nginx.*$", lambda: path.read_text()
                                   if path.exists() else "").group(0))
        plain = wait_for(r"^.* via-nginx (\S+) .*$", server.stdout)
    finally:
        proxy.stop()
        server.kill()
    assert set(line) == {"time", "request_id", "client", "method", "uri", "status",
                         "duration", "bytes", "user_agent"}
    assert (line["request_id"], line["method"], line["uri"], line["status"]) == \
        ("via-nginx", "POST", CURRENT, 200)
    assert datetime.fromisoformat(line["time"]) and line["duration"] >= 0
    assert plain.group(1) == made["tenant_id"]


@pytest.mark.live
def test_a_metrics_port_taken_is_logged_and_the_api_served(tmp_path):
    """A second server on the same metrics port serves its API and says why not metrics."""
    first = Server(tmp_path / "db.json", tmp_path).start().ready()
    port = first.metrics_url.split("/")[2]
    (tmp_path / "second").mkdir()
    second = Server(tmp_path / "db.json", tmp_path / "second", settings={"METRICS_BIND": port})
    try:
        second.start().ready()
        assert second.request("GET", "/api/v1/system/ping").text == "pong"
        wait_for(rf"\[ERROR\] .* Metrics not served on {port}: ", second.stderr)
        assert requests.get(first.metrics_url, timeout=TIMEOUT).status_code == 200
    finally:
        second.kill()
        first.kill()
