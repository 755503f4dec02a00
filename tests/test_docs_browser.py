"""The docs page in a real browser (Debian's Chromium, driven by Playwright): a person opens
it, enters a key, tries the legacy list call and reads its answer."""

import pytest

from tests.edge import CHROMIUM, need
from harness.live import Server, issue_key

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking"]
WAIT = 20_000  # ms for a page or an answer


@pytest.fixture
def browser():
    need(CHROMIUM, "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def authorize(page, key):
    page.get_by_role("button", name="Authorize").first.click(timeout=WAIT)
    page.get_by_label("auth-bearer-value").fill(key)
    page.get_by_role("button", name="Apply credentials").click()
    page.locator(".modal-ux button.btn-done").click()  # Close


def test_try_the_list_call_from_the_docs_page(tmp_path, browser):
    (tmp_path / "store").mkdir()
    db_path = tmp_path / "store" / "db.json"
    key = issue_key(db_path)
    server = Server(db_path, tmp_path).start().ready()
    server.request("POST", "/api/v1/dataset", key, json={"name": "from_the_docs"})
    page = browser.new_page()
    loaded = []  # every URL the page fetched: none may leave this server
    page.on("request", lambda request: loaded.append(request.url))
    try:
        page.goto(server.url + "/api/v1/docs/", timeout=WAIT)  # redirected to /api/v1/docs
        landed, title = page.url, page.title()
        authorize(page, key)
        page.locator("#operations-legacy-list_datasets .opblock-summary").click()
        page.get_by_role("button", name="Try it out").click()
        page.get_by_role("button", name="Execute").click()
        answer = page.locator(".live-responses-table tr.response")
        answer.wait_for(timeout=WAIT)
        status = answer.locator(".response-col_status").inner_text()
        body = answer.locator(".response-col_description pre.microlight").first.inner_text()
        page.screenshot(path=tmp_path / "docs.png", full_page=True)
    finally:
        server.kill()
    assert landed == server.url + "/api/v1/docs" and "current" in title and "legacy" in title
    assert status.strip() == "200"
    assert '"message": "attempt to list datasets"' in body and "from_the_docs" in body
    assert loaded and all(url.startswith(server.url) for url in loaded), loaded
    assert (tmp_path / "docs.png").stat().st_size > 10_000


def test_upload_a_file_from_the_docs_page(tmp_path, browser):
    db_path = tmp_path / "db.json"
    key = issue_key(db_path)
    server = Server(db_path, tmp_path).start().ready()
    dataset = server.request("POST", "/api/v1/datasets", key, json={"name": "docs"}).json()
    (tmp_path / "hello.txt").write_text("Hello from the browser.\n")
    page = browser.new_page()
    try:
        page.goto(server.url + "/api/v1/docs", timeout=WAIT)
        authorize(page, key)
        operation = page.locator("#operations-current-upload_documents")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator("tr[data-param-name='dataset_id'] input").fill(dataset["data"]["id"])
        operation.get_by_label("Request content type").select_option("multipart/form-data")
        operation.locator("input[type='file']").set_input_files(tmp_path / "hello.txt")
        operation.get_by_role("button", name="Execute").click()
        answer = operation.locator(".live-responses-table tr.response")
        answer.wait_for(timeout=WAIT)
        body = answer.locator(".response-col_description pre.microlight").first.inner_text()
        listed = server.request("GET", f"/api/v1/datasets/{dataset['data']['id']}/documents",
                                key).json()
    finally:
        server.kill()
    assert '"code": 0' in body and '"name": "hello.txt"' in body, body
    assert [d["name"] for d in listed["data"]["docs"]] == ["hello.txt"]
