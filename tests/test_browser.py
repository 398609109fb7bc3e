"""The built site in a real browser: Debian's Chromium driven by Playwright, over loopback HTTP (and
from disk). Screenshots go to $TEST_ARTIFACTS, else build/test-artifacts/."""
from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from generator.release.read import read_release
from tests.conftest import NEWEST, OLDER, ROOT

# The 2023 edition's page has the most tables, the recall plot and every kind of layout.
PAGE = f"{OLDER}/datasets.html"
RELEASES = ROOT / "data" / "releases"


def published(edition: str) -> list:
    return read_release(RELEASES / f"{edition}.yml").published()

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(.ci/run installs it; locally: apt-get install chromium)")

# Without these, Chromium tries to reach Google's services, which a closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")


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


# What Chromium reports for a request the page's own navigation cancelled (a favicon still
# loading when a test clicks a link): not a failure of the site.
NAVIGATED_AWAY = "net::ERR_ABORTED"


def open_page(browser, url, width=1400, scheme="light", **context):
    """A page in a fresh context (the theme remembers a chosen colour scheme per context); every
    console error, page error and failed request is collected (but requests the page's own
    navigation cancelled)."""
    page = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme, **context).new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: None if request.failure == NAVIGATED_AWAY
            else problems.append(f"request failed: {request.url} ({request.failure})"))
    response = page.goto(url, wait_until="load")
    assert response.status == 200
    return page, problems


def close(page):
    page.context.close()


# What must hold of the page's layout, measured in the browser: for every table, its width and
# that of the nearest box that scrolls sideways (or the article); for every md5 and dataset shape,
# whether it is cut or broken over lines; which recall plot shows.
MEASURE = """() => {
  const article = document.querySelector('article');
  const scroller = el => { for (let e = el.parentElement; e && e !== article; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll') return e; } return article; };
  return {
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    tables: [...article.querySelectorAll('table')].map(t => { const s = scroller(t);
      return {id: t.id, width: t.getBoundingClientRect().width, box: s.clientWidth, scrolls: s !== article,
              boxLeft: s.getBoundingClientRect().left, boxRight: s.getBoundingClientRect().right}; }),
    md5s: [...article.querySelectorAll('code.md5')].map(c => ({text: c.textContent, lines: c.getClientRects().length,
              cut: c.scrollWidth > c.clientWidth + 1})),
    shapes: [...article.querySelectorAll('.dataset')].map(s => [s.textContent, s.getClientRects().length]),
    plots: [...article.querySelectorAll('img.recall-plot')].map(i => [i.getAttribute('src'), i.naturalWidth,
              i.getBoundingClientRect().width > 0 && getComputedStyle(i).display !== 'none']),
    scheme: document.body.getAttribute('data-md-color-scheme'),
  };
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_nothing_is_cut_at_any_width_and_the_plot_follows_the_scheme(browser, site_url, scheme):
    files = published(OLDER)
    page, problems = open_page(browser, f"{site_url}/{PAGE}", scheme=scheme)
    assert page.locator("div.datasets table tbody tr").count() == len(files) == 43
    assert page.locator(".admonition.warning").first.is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (800, 1400, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        seen = page.evaluate(MEASURE)
        assert seen["page"][0] <= seen["page"][1], f"the page scrolls sideways at {width} px"
        # One table per group in page order, then the recall table and the rebuild section's table of targets.
        groups = list(dict.fromkeys(f"table-{b.group}" for b in files))
        assert [t["id"] for t in seen["tables"]] == groups + ["", ""]
        for table in seen["tables"]:
            # A table fits its box, or that box scrolls sideways and stays inside the window.
            fits = table["width"] <= table["box"] + 1
            assert fits or (table["scrolls"] and table["boxLeft"] >= 0 and table["boxRight"] <= width), (width, table)
        assert len(seen["md5s"]) == len(files)
        for md5 in seen["md5s"]:
            assert len(md5["text"]) == 32 and md5["lines"] == 1 and not md5["cut"], (width, md5)
        assert seen["shapes"] and all(lines == 1 for _, lines in seen["shapes"]), (width, seen["shapes"])
        assert seen["scheme"] == {"light": "default", "dark": "slate"}[scheme]
        shown = [src for src, natural, visible in seen["plots"] if visible and natural > 0]
        # The plot is published in the edition's folder, beside its page.
        assert shown == [f"recall-projections{'-dark' if scheme == 'dark' else ''}.svg"
                         f"#only-{scheme}"], seen["plots"]
        for anchor in ("table-gold", "recall-of-the-projections"):
            page.evaluate(f"document.getElementById('{anchor}').scrollIntoView()")
            page.screenshot(path=SCREENSHOTS / f"datasets-{OLDER}-{width}-{scheme}-{anchor}.png")
    assert problems == []
    close(page)


@pytest.mark.parametrize("name", [PAGE, "datasets.html"])
def test_every_table_fits_a_wide_window(browser, site_url, name):
    page, problems = open_page(browser, f"{site_url}/{name}")
    for width in (1400, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        for table in page.evaluate(MEASURE)["tables"]:
            assert table["width"] <= table["box"] + 1, (width, table)
    assert problems == []
    close(page)


def test_the_newest_page_fits_and_marks_reused_and_external_files(browser, site_url):
    files = published(NEWEST)
    page, problems = open_page(browser, f"{site_url}/datasets.html")
    assert page.locator("div.datasets table tbody tr").count() == len(files) == 11
    assert page.locator("em.origin", has_text="external").count() == len([b for b in files if b.source == "external"])
    assert page.locator("em.origin", has_text="reused from edition 2023").count() == len(
        [b for b in files if b.source == "reused"])
    for width in (800, 1400):
        page.set_viewport_size({"width": width, "height": 900})
        seen = page.evaluate(MEASURE)
        assert seen["page"][0] <= seen["page"][1], f"the page scrolls sideways at {width} px"
        for md5 in seen["md5s"]:
            assert len(md5["text"]) == 32 and md5["lines"] == 1 and not md5["cut"], (width, md5)
        page.screenshot(path=SCREENSHOTS / f"datasets-{NEWEST}-{width}.png", full_page=True)
    assert problems == []
    close(page)


def visible_code(tabbed_set) -> str:
    return tabbed_set.locator("pre code:visible").first.inner_text()


def test_tabs_switch_linked_across_the_page_and_copy_copies_the_chosen_block(browser, site_url):
    page, problems = open_page(browser, f"{site_url}/{PAGE}",
                               permissions=["clipboard-read", "clipboard-write"])
    by_subset = page.locator("#by-subset ~ .tabbed-set").first
    by_group = page.locator("#by-group ~ .tabbed-set").first
    assert visible_code(by_subset).startswith("curl -fL --retry 5 -C - -o laion2B-en-clip768v2-n=100K.h5 \\\n")
    by_subset.locator("label", has_text="10M").first.click()
    by_subset.locator("label:visible", has_text="pca32").first.click()
    by_subset.locator("label:visible", has_text="wget").first.click()
    chosen = visible_code(by_subset)
    assert chosen.startswith("wget -c -O laion2B-en-pca32v2-n=10M.h5 \\\n  https://")
    assert "  laion2B-en-public-gold-standard-v2-10M.h5\n" in chosen
    assert chosen.rstrip().endswith("  laion2B-en-private-gold-standard-v2-10M-F64-IEEE754.h5\nEND_OF_MD5")
    # Linked tabs: the representation and the tool chosen once hold for the group blocks too.
    assert visible_code(by_group).startswith("wget -c -O laion2B-en-pca32v2-n=100M.h5 \\\n")
    page.locator("#by-subset").scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"datasets-{OLDER}-1400-light-commands.png")

    by_subset.locator("pre:visible button[data-md-type=copy]").first.click()
    assert page.evaluate("navigator.clipboard.readText()").strip() == chosen.strip()

    md5 = page.locator("code.md5").first
    md5.click()
    assert page.evaluate("() => window.getSelection().toString()") == md5.inner_text()
    assert page.locator("pre button[data-md-type=copy]").count() >= 144
    assert problems == []
    close(page)


def test_the_datasets_page_is_one_click_from_home_and_from_it_to_download_and_verify(browser, site_url):
    """At 800 px, where the header shows no tabs, links in the pages lead on."""
    page, problems = open_page(browser, f"{site_url}/index.html", width=800)
    page.locator("article a[href='datasets.html']:visible").first.click()
    page.wait_for_url("**/datasets.html")
    page.locator("article a[href='verify.html']:visible").first.click()
    page.wait_for_url("**/verify.html")
    assert page.locator("article a[href='datasets.html']:visible").count() > 0
    assert problems == []
    close(page)


def test_the_editions_link_each_other(browser, site_url):
    """From the newest page to the editions page, to the 2023 page, and from its note back to the newest."""
    page, problems = open_page(browser, f"{site_url}/datasets.html")
    page.locator("article a[href='editions.html']:visible").first.click()
    page.wait_for_url("**/editions.html")
    page.locator(f"article a[href='{PAGE}']:visible").first.click()
    page.wait_for_url(f"**/{PAGE}")
    assert page.locator("div.datasets table tbody tr").count() == len(published(OLDER))
    page.locator(".admonition.info a[href='../datasets.html']").first.click()
    page.wait_for_url(f"{site_url}/datasets.html")
    assert problems == []
    close(page)


def test_the_site_works_opened_from_disk(browser, committed_site):
    """From file://, with the header's tabs of a wide window."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto((committed_site.site / "index.html").as_uri())
    page.locator(".md-tabs a", has_text="Datasets").click()
    page.wait_for_url("**/datasets.html")
    assert page.locator("div.datasets table tbody tr").count() == len(published(NEWEST))
    page.goto((committed_site.site / PAGE).as_uri())
    assert page.locator("div.datasets table tbody tr").count() == len(published(OLDER))
    assert page.locator("img.recall-plot:visible").evaluate("img => img.naturalWidth") > 0
    page.locator(".md-tabs a", has_text="Download and verify").click()
    page.wait_for_url("**/verify.html")
    close(page)


def test_every_page_loads_and_search_finds_a_bundle(browser, site_url):
    page, problems = open_page(browser, f"{site_url}/verify.html")
    assert problems == []
    close(page)
    page, problems = open_page(browser, f"{site_url}/index.html")
    search = page.locator(".md-search__input")
    search.click()
    # Typed key by key: the theme's search reacts to key events, not to a value set at once.
    search.press_sequentially("gold standard", delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=10_000)
    assert page.locator(".md-search-result__item").count() > 0
    assert problems == []
    close(page)


# Every code block (in every tab, all shown for the measure), table and table frame of the
# article, and the page itself: none wider than its box; and the smallest text of each kind.
READING = """() => {
  const style = document.createElement('style');
  style.textContent = '.tabbed-set > .tabbed-content > .tabbed-block { display: block !important; }';
  document.head.appendChild(style);
  const article = document.querySelector('article');
  const shown = el => el.getClientRects().length > 0 && el.textContent.trim() !== '';
  const all = selector => [...article.querySelectorAll(selector)].filter(shown);
  const size = el => parseFloat(getComputedStyle(el).fontSize);
  const smallest = els => els.length ? Math.min(...els.map(size)) : null;
  const wider = el => el.scrollWidth > el.clientWidth + 1
      || (el.tagName !== 'DIV' && el.getBoundingClientRect().width > article.clientWidth + 1);
  const boxes = [...all('pre'), ...all('pre > code'), ...all('table'), ...all('.md-typeset__scrollwrap')];
  const result = {
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    measured: boxes.length,
    wider: boxes.filter(wider).map(el => [el.tagName, el.scrollWidth, el.clientWidth, el.textContent.slice(0, 60)]),
    body: smallest(all('p, li').filter(el => !el.closest('table, .admonition, details'))),
    table: smallest(all('td, th')),
    code: smallest(all('code')),
    notes: smallest(all('.admonition p, .admonition li, details p, details li')),
  };
  style.remove();
  return result;
}"""
# The smallest size, in px, of each kind of text of the content (docs/design/index.md#a-page-that-reads).
SMALLEST = {"body": 14, "table": 13, "code": 13, "notes": 12}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", ["datasets", f"{OLDER}/datasets", "filter"])
def test_no_block_or_table_is_wider_than_its_column_and_no_text_is_too_small(browser, site_url, scheme, name):
    page, problems = open_page(browser, f"{site_url}/{name}.html", scheme=scheme)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (800, 1400, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        seen = page.evaluate(READING)
        assert seen["page"][0] <= seen["page"][1], f"the page scrolls sideways at {width} px"
        assert seen["measured"] >= (40 if name.endswith("datasets") else 3), seen["measured"]
        assert seen["wider"] == [], (width, seen["wider"])
        for kind, least in SMALLEST.items():
            assert seen[kind] is None or seen[kind] >= least, (width, kind, seen[kind])
        assert seen["body"] is not None and seen["code"] is not None
        shot = name.replace("/", "-")
        page.screenshot(path=SCREENSHOTS / f"reading-{shot}-{width}-{scheme}.png", full_page=False)
        page.locator("article pre").first.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / f"reading-{shot}-{width}-{scheme}-code.png")
    assert problems == []
    close(page)
