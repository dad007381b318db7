"""Instant results and the rest of issue 17's item 4, in real headless Chromium: results
as you type without a page load, the URL in step, keyboard moves, a live count, dark mode
that is readable, and a page that works as before with JavaScript off."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

pytestmark = pytest.mark.slow  # the browser fixtures (in conftest.py) skip without Chromium


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def wait_for_query(page, query: str) -> None:
    """Until the instant results for `query` are in: the URL names it, no request waits."""
    page.wait_for_function(
        "q => new URLSearchParams(location.search).get('q') === q", arg=query)


def test_typing_shows_results_without_a_page_load(page, base_url):
    page.goto(base_url + "/")
    page.evaluate("window.__sameDocument = 'yes'")  # a page load would forget it
    before = page.locator(".hit h2 a").all_inner_texts()
    page.locator("input[name=q]").press_sequentially("alphafold", delay=30)
    wait_for_query(page, "alphafold")
    titles = page.locator(".hit h2 a").all_inner_texts()
    assert titles != before and any("AlphaFold" in title for title in titles)
    assert page.locator(".hit mark").first.inner_text().lower() == "alphafold"
    assert page.evaluate("window.__sameDocument") == "yes"
    assert params(page.url)["q"] == ["alphafold"]
    assert page.title().startswith("alphafold ·")
    # The box keeps the focus and what was typed; the archived copies carry the query.
    assert page.locator("input[name=q]").evaluate("el => el === document.activeElement")
    archived = page.locator(".hit").first.get_by_role("link", name="archived copy")
    assert archived.get_attribute("href").endswith("?q=alphafold")
    assert page.errors == []


def test_a_late_answer_to_an_older_query_is_dropped(page, base_url):
    page.goto(base_url + "/")
    # The answer for "alphafold" is held back until after "gemini" has been answered.
    page.evaluate("""() => {
        const fetchNow = window.fetch;
        window.fetch = (url, options) => url.includes("q=alphafold")
            ? new Promise(resolve => setTimeout(resolve, 1500)).then(() => fetchNow(url, options))
            : fetchNow(url, options);
    }""")
    box = page.locator("input[name=q]")
    box.fill("alphafold")
    page.wait_for_timeout(400)  # past the pause: the slow request is sent
    box.fill("gemini")
    wait_for_query(page, "gemini")
    page.wait_for_timeout(2000)  # the slow answer has come and gone
    assert params(page.url)["q"] == ["gemini"]
    titles = " ".join(page.locator(".hit h2 a").all_inner_texts())
    assert "Gemini" in titles and "AlphaFold" not in titles
    assert page.errors == []


def test_instant_results_keep_the_filters_and_the_order(page, base_url):
    page.goto(base_url + "/?q=alphafold&source=DeepMind+Blog&sort=newest")
    box = page.locator("input[name=q]")
    box.fill("")
    box.press_sequentially("protein", delay=30)
    wait_for_query(page, "protein")
    assert params(page.url)["source"] == ["DeepMind Blog"]
    assert params(page.url)["sort"] == ["newest"]
    sources = page.locator(".hit .source").all_inner_texts()
    assert sources and set(sources) == {"DeepMind Blog"}


def test_the_live_count_says_the_new_total(page, base_url):
    page.goto(base_url + "/")
    live = page.locator("#result-count")
    assert live.get_attribute("aria-live") == "polite"
    box = page.locator("input[name=q]")
    box.press_sequentially("alphafold", delay=30)
    wait_for_query(page, "alphafold")
    said = live.inner_text()
    assert re.fullmatch(r"\d+ results?", said)
    assert said == page.locator("#total").inner_text()
    box.fill("qwxzvbnmlkj")
    wait_for_query(page, "qwxzvbnmlkj")
    assert live.inner_text() == "0 results"
    assert page.locator(".empty").is_visible()


def test_a_bad_date_shows_its_message_in_the_results_place(page, base_url):
    page.goto(base_url + "/?q=alphafold")
    page.locator("input[name=since]").fill("2020-99")  # not submitted: typing sends it
    box = page.locator("input[name=q]")
    box.fill("alphafold protein")
    wait_for_query(page, "alphafold protein")
    message = page.locator("#instant .error .message")
    assert "since" in message.inner_text() and page.locator(".hit").count() == 0
    assert page.locator("#result-count").inner_text() == message.inner_text()
    page.locator("input[name=since]").fill("")
    box.fill("alphafold proteins")  # results again once the date is gone
    wait_for_query(page, "alphafold proteins")
    assert page.locator(".hit").count() >= 1
    assert page.errors == []


def test_arrow_keys_move_through_results_and_enter_opens_one(page, base_url):
    # Results link their originals; answer those here (the browser has no network).
    page.route(lambda url: not url.startswith(base_url),
               lambda route: route.fulfill(body="<title>the original</title>",
                                           content_type="text/html"))
    page.goto(base_url + "/?q=alphafold")
    links = page.locator(".hit h2 a")
    assert links.count() >= 2
    box = page.locator("input[name=q]")
    box.focus()

    def focused() -> str:
        return page.evaluate("document.activeElement.textContent")

    page.keyboard.press("ArrowDown")
    assert focused() == links.nth(0).inner_text()
    page.keyboard.press("ArrowDown")
    assert focused() == links.nth(1).inner_text()
    page.keyboard.press("ArrowUp")
    assert focused() == links.nth(0).inner_text()
    # The focused result is outlined, and its row shows which one it is.
    outline = links.nth(0).evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("ArrowUp")
    assert box.evaluate("el => el === document.activeElement")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    target = links.nth(1).get_attribute("href")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == urljoin(base_url + "/", target)
    assert page.errors == []


def test_arrow_down_after_typing_waits_for_the_new_results(page, base_url):
    page.goto(base_url + "/?q=alphafold")
    box = page.locator("input[name=q]")
    box.fill("gemini")
    page.keyboard.press("ArrowDown")  # within the pause: the old results are about to go
    assert box.evaluate("el => el === document.activeElement")
    wait_for_query(page, "gemini")
    page.keyboard.press("ArrowDown")
    first = page.locator(".hit h2 a").first
    assert first.evaluate("el => el === document.activeElement")
    assert "Gemini" in first.inner_text()


def luminance(rgb: str) -> float:
    """WCAG relative luminance of a computed colour such as "rgb(21, 23, 26)"."""
    channels = [int(c) / 255 for c in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_dark_mode_is_readable(open_page, base_url, tmp_path):
    page = open_page(color_scheme="dark", viewport={"width": 1100, "height": 1000})
    page.goto(base_url + "/?q=language+models")
    page.locator("input[name=q]").focus()
    page.keyboard.press("ArrowDown")  # a focused result in the picture too
    page.screenshot(path=tmp_path / "dark-search.png", full_page=True)

    def style(selector: str, prop: str) -> str:
        return page.locator(selector).first.evaluate(
            f"el => getComputedStyle(el).{prop}")

    background = style("body", "backgroundColor")
    assert luminance(background) < 0.05  # dark indeed
    # Text on the page's background: body, links, snippets, facet names and counts.
    for selector, wanted in (("body", 7), (".hit h2 a", 4.5), (".snippet", 7),
                             (".facet li a", 4.5), (".facet .count", 4.5),
                             (".summary", 4.5), (".meta", 4.5)):
        ratio = contrast(style(selector, "color"), background)
        assert ratio >= wanted, (selector, ratio)
    # A mark, a button and the current page number carry their own backgrounds.
    for selector in (".snippet mark", "button[type=submit]"):
        ratio = contrast(style(selector, "color"), style(selector, "backgroundColor"))
        assert ratio >= 4.5, (selector, ratio)
    # The timeline's bars against the page (3:1 is enough for graphics).
    assert contrast(style(".timeline rect", "fill"), background) >= 3
    archived = page.locator(".hit").first.get_by_role("link", name="archived copy")
    post = archived.get_attribute("href")  # with ?q=language+models, to mark its words

    page.goto(base_url + "/?per_page=5")
    current = ".pages .current"
    assert contrast(style(current, "color"), style(current, "backgroundColor")) >= 4.5

    page.goto(base_url + post)
    page.get_by_role("link", name="go to the first").click()
    page.screenshot(path=tmp_path / "dark-post.png")
    jump = "#mark-1 + .next-mark"
    assert page.locator(jump).is_visible()
    assert contrast(style(jump, "color"), style(jump, "backgroundColor")) >= 4.5
    assert contrast(style(".body", "color"), style("body", "backgroundColor")) >= 7
    assert (tmp_path / "dark-search.png").stat().st_size > 10_000
    assert page.errors == []


def test_search_facets_and_paging_work_with_javascript_off(open_page, base_url):
    page = open_page(java_script_enabled=False)
    page.goto(base_url + "/")
    listed = page.locator(".hit h2 a").all_inner_texts()
    box = page.locator("input[name=q]")
    box.press_sequentially("alphafold", delay=30)
    page.wait_for_timeout(600)  # well past the pause: nothing may change without a submit
    assert page.locator(".hit h2 a").all_inner_texts() == listed
    assert page.locator("#result-count").inner_text() == ""
    box.press("Enter")
    page.wait_for_url("**q=alphafold*")
    assert any("AlphaFold" in t for t in page.locator(".hit h2 a").all_inner_texts())
    # A facet is a link: the filter applies on a page load.
    facet = page.locator(".facet", has=page.locator("h2", has_text="Source"))
    facet.get_by_role("link", name="DeepMind Blog").click()
    page.wait_for_url("**source=DeepMind+Blog*")
    assert set(page.locator(".hit .source").all_inner_texts()) == {"DeepMind Blog"}
    # Paging too.
    page.goto(base_url + "/?per_page=5")
    first = page.locator(".hit h2 a").all_inner_texts()
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2*")
    second = page.locator(".hit h2 a").all_inner_texts()
    assert len(second) == 5 and not set(first) & set(second)
    assert page.locator(".pages [aria-current=page]").inner_text() == "2"
