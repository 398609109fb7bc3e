"""The built site in a real browser: Debian's Chromium driven by Playwright, over loopback HTTP."""
from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(.ci/run installs it; locally: apt-get install chromium)")

# Without these, Chromium tries to reach Google's services, which a closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site_url(committed_site):
    handler = functools.partial(QuietHandler, directory=str(committed_site.site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, url):
    page = browser.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    response = page.goto(url, wait_until="networkidle")
    assert response.status == 200
    return page, problems


def test_datasets_page_shows_its_tables_without_console_errors(browser, site_url):
    page, problems = open_page(browser, f"{site_url}/datasets/")
    tables = page.locator("div.datasets table")
    assert tables.count() == 6
    for index in range(tables.count()):
        assert tables.nth(index).is_visible()
    assert page.locator("div.datasets table tbody tr").count() == 32
    assert page.locator("div.recall table").is_visible()
    assert page.locator(".admonition.warning").first.is_visible()
    assert page.locator("img[src*='recall-projections.svg']").evaluate("img => img.naturalWidth") > 0
    assert problems == []
    page.close()


def test_md5_selects_whole_and_code_blocks_have_copy_buttons(browser, site_url):
    page, problems = open_page(browser, f"{site_url}/datasets/")
    md5 = page.locator("code.md5").first
    md5.click()
    assert page.evaluate("() => window.getSelection().toString()") == md5.inner_text()
    assert page.locator("pre button[data-md-type=copy]").count() >= 6
    assert problems == []
    page.close()


def test_every_page_loads_and_search_finds_a_bundle(browser, site_url):
    for path in ("/", "/verify/"):
        page, problems = open_page(browser, site_url + path)
        assert problems == [], path
        page.close()
    page, problems = open_page(browser, f"{site_url}/")
    search = page.locator(".md-search__input")
    search.click()
    # Typed key by key: the theme's search reacts to key events, not to a value set at once.
    search.press_sequentially("gold standard", delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=10_000)
    assert page.locator(".md-search-result__item").count() > 0
    assert problems == []
    page.close()
