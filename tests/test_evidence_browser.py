"""The evidence page as a judge's browser shows it: chromium, headless, loads it and we read its DOM.

The page must stand on its own (every request but the page itself is refused and counted) and
show the answer, every event of the timeline with both times, the late-recorded mark and the
verification section. Chromium comes from the project's own cache (`tests/browser.py`): this
test fails (never skips) when it cannot be fetched.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from test_evidence import PAPER, PAPER_SIGNED, PUBLIC, bundle_for, dispute

from audit.evidence_html import render

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import FakeClock
    from playwright.sync_api import Browser, Page

    from ledger.application import ConsentLedger
    from ledger.storage import Database


PAPER_WRITTEN_OUT = "6 March 2026, 14:00 (UTC+5)"
"""A day after the paper form was signed (09:00 UTC), as the page writes it in Almaty time."""


def shown(browser: Browser, page_file: Path) -> tuple[Page, list[str]]:
    """Open a page from a file with every other request refused; the page and what it tried to fetch."""
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_the_page(route) -> None:
        if route.request.url == page_file.as_uri():
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_page)
    page.goto(page_file.as_uri(), wait_until="load", timeout=30_000)
    return page, elsewhere


def test_a_headless_browser_shows_the_answer_the_timeline_and_the_verification(
    ledger: ConsentLedger, database: Database, clock: FakeClock, tmp_path: Path, browser: Browser
) -> None:
    dispute(ledger, clock)
    bundle = bundle_for(ledger, database, PAPER, PAPER_SIGNED + timedelta(days=1))
    page_file = tmp_path / "bundle.html"
    page_file.write_text(render(bundle))

    page, elsewhere = shown(browser, page_file)
    page.set_viewport_size({"width": 1200, "height": 1600})
    shot = page.screenshot(full_page=True)

    assert elsewhere == [], "the page asks nothing of any other host"
    sentence = page.locator("section#answer .sentence").inner_text()
    assert sentence.startswith(f"At {PAPER_WRITTEN_OUT}, subject {PAPER} had accepted version 1 of policy")
    assert "recorded later on" in sentence
    assert page.locator("tr.event").count() == len(bundle["events"])
    assert page.locator("tr.event.late").count() >= 1
    assert "recorded after T" in page.locator("tr.event.late").first.inner_text()
    times = [t.get_attribute("datetime") for t in page.locator("#timeline time").all()]
    for event in bundle["events"]:
        assert event["occurred_at"] in times
        assert event["recorded_at"] in times
    assert page.locator("#public-key").inner_text() == PUBLIC
    assert page.locator("#root").inner_text() == bundle["checkpoint"]["root"]
    assert page.locator("#checkpoint-note").inner_text().splitlines()[0] == bundle["checkpoint"]["note"].splitlines()[0]
    assert len(shot) > 10_000


def test_values_that_look_like_markup_are_shown_as_text_not_run(tmp_path: Path, browser: Browser) -> None:
    hostile = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
    bundle = {
        "subject_id": hostile,
        "at": "2026-03-05T00:00:00+00:00",
        "answer": {"sentence": hostile, "policies": []},
        "events": [
            {"kind": hostile, "position": 1, "occurred_at": hostile, "recorded_at": "x", "summary": {"a": hostile}},
        ],
        "checkpoint": {"note": hostile},
        "public_key": hostile,
        "not_part_of_proof": {"label": hostile},
    }
    page_file = tmp_path / "bundle.html"
    page_file.write_text(render(bundle))

    page, elsewhere = shown(browser, page_file)

    assert page.title() != "pwned"
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    assert hostile in page.locator("section#answer").inner_text()
    assert elsewhere == []
