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
        page.get_by_role("button", name="Authorize").first.click(timeout=WAIT)
        page.get_by_label("auth-bearer-value").fill(key)
        page.get_by_role("button", name="Apply credentials").click()
        page.locator(".modal-ux button.btn-done").click()  # Close
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
