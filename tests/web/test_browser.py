"""The search page in real headless Chromium, served by waitress as `searchidx serve` does."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.web.conftest import LONG_REPOSITORY

pytestmark = pytest.mark.slow  # the browser fixtures (in conftest.py) skip without Chromium


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_type_query_and_press_enter(page, base_url, tmp_path):
    page.goto(base_url + "/")
    box = page.locator("input[name=q]")
    assert box.evaluate("el => el === document.activeElement")  # autofocus
    box.fill("alphafold")
    box.press("Enter")
    page.wait_for_url("**/?q=alphafold*")
    titles = page.locator(".hit h2 a").all_inner_texts()
    assert titles and any("AlphaFold" in t for t in titles)
    assert page.locator(".hit mark").first.inner_text().lower() == "alphafold"
    assert "result" in page.locator(".summary").inner_text()
    page.screenshot(path=tmp_path / "results.png", full_page=True)
    assert page.errors == []


def test_slash_key_focuses_search_box(page, base_url):
    page.goto(base_url + "/?q=gemini")
    page.locator(".summary").click()  # move focus off the box
    assert not page.locator("input[name=q]").evaluate("el => el === document.activeElement")
    page.keyboard.press("/")
    assert page.locator("input[name=q]").evaluate("el => el === document.activeElement")
    assert page.locator("input[name=q]").input_value() == "gemini"  # "/" was not typed


def test_click_facet_applies_filter_and_remove_it(page, base_url):
    page.goto(base_url + "/?q=alphafold")
    everything = page.locator(".hit").count()
    facet = page.locator(".facet", has=page.locator("h2", has_text="Source"))
    facet.get_by_role("link", name="DeepMind Blog").click()
    page.wait_for_url("**source=DeepMind+Blog*")
    sources = page.locator(".hit .source").all_inner_texts()
    assert sources and set(sources) == {"DeepMind Blog"}
    assert page.locator(".active-filters").inner_text().startswith("source: DeepMind Blog")
    page.get_by_role("link", name="Remove filter source DeepMind Blog").click()
    page.wait_for_url(lambda url: "source" not in params(url))
    assert page.locator(".hit").count() == everything


def test_sort_change_submits_with_javascript(page, base_url):
    page.goto(base_url + "/?q=language")
    page.locator("#sort").select_option("oldest")
    page.wait_for_url("**sort=oldest*")
    dates = page.locator(".hit time").evaluate_all("els => els.map(e => e.dateTime)")
    assert dates == sorted(d for d in dates if d) + [d for d in dates if not d]


def test_paginate(page, base_url):
    page.goto(base_url + "/?per_page=5")
    first = page.locator(".hit h2 a").all_inner_texts()
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2*")
    second = page.locator(".hit h2 a").all_inner_texts()
    assert len(second) == 5 and not set(first) & set(second)
    assert page.locator(".pages [aria-current=page]").inner_text() == "2"
    page.locator(".pages").get_by_role("link", name="3", exact=True).click()
    page.wait_for_url("**page=3*")
    assert page.locator(".pages [aria-current=page]").inner_text() == "3"


def test_open_archived_copy(page, base_url):
    page.goto(base_url + "/?q=introducing+chatgpt")
    page.locator(".hit").first.get_by_role("link", name="archived copy").click()
    page.wait_for_url("**/post/*")
    assert page.locator("article h1").inner_text() == "Introducing ChatGPT"
    assert page.locator(".body h2").first.inner_text() == "How it was trained"
    assert page.locator(".similar li").count() >= 1


def test_hostile_post_shows_as_text_and_runs_nothing(page, base_url):
    page.goto(base_url + "/?q=zorblax")
    title = page.locator(".hit h2 a").first
    assert "<script>alert(1)</script>" in title.inner_text()
    assert "<b>Hostile</b> Source" in page.locator(".hit .source").first.inner_text()
    title.click()  # the javascript: url is not linked: this opens the archived copy
    page.wait_for_url("**/post/*")
    assert "<script>alert(1)</script>" in page.locator("article h1").inner_text()
    assert "Zorblax body text" in page.locator(".body").inner_text()
    page.get_by_text("raw javascript link").click()  # its href is gone: nothing happens
    page.wait_for_timeout(300)  # give any injected handler the chance to fire
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    assert page.errors == []


def test_search_works_with_javascript_off(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(base_url + "/")
        page.locator("input[name=q]").fill("transformer")
        page.locator("input[name=q]").press("Enter")
        page.wait_for_url("**q=transformer*")
        assert page.locator(".hit").count() >= 1
        page.locator("#sort").select_option("newest")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**sort=newest*")
        assert params(page.url)["q"] == ["transformer"]
    finally:
        context.close()


def test_a_long_facet_value_wraps_rather_than_widen_the_page(page, base_url):
    page.goto(f"{base_url}/?q=quuxwell")
    assert LONG_REPOSITORY in page.locator(".facets").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
