"""The disputes desk and /docs in a real headless chromium, with every host but our server cut off.

The browser is the one `tests/browser.py` keeps in `.cache/browser/`; the server is the whole
app over the demo's history, in this process (SQLite: the storage behind the page is covered on
both backends by `test_desk.py`; here the page itself is under test). Every request the page
makes to another host is refused and recorded, and must be none. Accessibility is checked with
axe-core (the script the `axe-playwright-python` package ships), run in that browser.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bearer import token
from browser import LAUNCHER
from playwright.sync_api import expect
from serving import served_in_thread
from test_desk import demo_app
from test_evidence import PUBLIC

from api.desk.routes import BROWSER_ENV
from api.tokens import Scope
from audit.evidence import verify_bundle

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import FakeClock
    from playwright.sync_api import Browser, BrowserContext, Page

    from ledger.application import ConsentLedger
    from ledger.storage import Database

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

AXE = (files("axe_playwright_python") / "axe.min.js").read_text()
WAIT_MS = 20_000


@pytest.fixture
def server(ledger: ConsentLedger, database: Database, clock: FakeClock) -> Iterator[str]:
    with served_in_thread(demo_app(ledger, database, clock)) as base:
        yield base


def cut_off(context: BrowserContext, base: str) -> list[str]:
    """Refuse every request to any host but `base`; the list fills with the URLs refused."""
    elsewhere: list[str] = []

    def only_ours(route) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    return elsewhere


def signed_in_page(browser: Browser, base: str, secret: str) -> tuple[Page, list[str]]:
    context = browser.new_context(accept_downloads=True, bypass_csp=True)  # CSP bypassed only for axe's script
    elsewhere = cut_off(context, base)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{base}/desk/?lang=en")
    page.get_by_label("Access token").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#caller")).to_have_text("disputes-desk")
    return page, elsewhere


def look_up(page: Page, subject: str, at: str, known: str) -> None:
    page.get_by_label("Subject (pseudonymous id)").fill(subject)
    page.get_by_label("Moment", exact=True).fill(at)
    page.locator("#as_known_at").fill(known)
    page.get_by_label("Purpose of this look-up").fill("answering claim CL-2026-099")
    page.get_by_role("button", name="Look up", exact=True).click()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands (moderate ones are printed)."""
    page.evaluate(AXE)
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert found["testEngine"]["name"] == "axe-core"
    assert len(found["passes"]) > 10, "axe ran its rules over the page"
    for v in found["violations"]:
        print(f"axe {v['impact']}: {v['id']} ({len(v['nodes'])} nodes) on {page.url}")  # noqa: T201  (the report)
    return [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in found["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_the_desk_signs_in_looks_up_travels_in_time_downloads_and_verifies_with_no_other_host(
    browser: Browser, server: str, ledger: ConsentLedger, tmp_path: Path
) -> None:
    page, elsewhere = signed_in_page(browser, server, token(ledger, "disputes-desk", Scope.EVIDENCE))

    look_up(page, "cust-1002", "2026-02-01T12:00", "2026-02-01T12:00")
    expect(page.locator(".sentence")).to_contain_text("had no standing acceptance of policy dala-market-privacy")
    page.get_by_role("button", name="now", exact=True).click()
    expect(page.locator(".sentence")).to_contain_text("had accepted version 1 of policy dala-market-privacy")
    expect(page.locator(".sentence")).to_contain_text("recorded later on 16 February 2026, 11:20 (UTC+5)")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the bundle (JSON)").click()
    bundle = tmp_path / "bundle.json"
    download.value.save_as(bundle)
    page.get_by_role("button", name="Show whether the bundle verifies").click()

    expect(page.locator("#verdict")).to_contain_text("The bundle verifies")
    assert verify_bundle(bundle.read_bytes(), PUBLIC).ok
    assert json.loads(bundle.read_text())["subject_id"] == "cust-1002"
    assert elsewhere == [], "the desk asks nothing of any other host"


def test_the_printable_page_downloads_as_a_pdf_printed_by_the_browser(
    browser: Browser, server: str, ledger: ConsentLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BROWSER_ENV, str(LAUNCHER))
    page, elsewhere = signed_in_page(browser, server, token(ledger, "disputes-desk", Scope.EVIDENCE))
    look_up(page, "cust-1002", "2026-03-21T12:00", "")

    with page.expect_download() as download:
        page.get_by_role("button", name="Printable page (PDF)").click()
    pdf = tmp_path / "page.pdf"
    download.value.save_as(pdf)

    assert download.value.suggested_filename == "evidence-cust-1002-20260321T120000.en.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf.stat().st_size > 10_000
    assert elsewhere == []


def test_the_desk_pages_have_no_serious_accessibility_violations(
    browser: Browser, server: str, ledger: ConsentLedger
) -> None:
    context = browser.new_context(bypass_csp=True)
    cut_off(context, server)
    sign_in = context.new_page()
    sign_in.goto(f"{server}/desk/?lang=kk")
    page, _ = signed_in_page(browser, server, token(ledger, "disputes-desk", Scope.EVIDENCE))
    look_up(page, "cust-1001", "2026-03-05T18:00", "")
    page.get_by_role("button", name="Show whether the bundle verifies").click()
    expect(page.locator("#verdict")).to_be_visible()

    assert serious_violations(sign_in) == []
    assert serious_violations(page) == []


def test_the_desk_is_usable_from_the_keyboard_alone(browser: Browser, server: str, ledger: ConsentLedger) -> None:
    secret = token(ledger, "disputes-desk", Scope.EVIDENCE)
    context = browser.new_context()
    cut_off(context, server)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server}/desk/?lang=en")

    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.locator("#token").focus()
    page.keyboard.type(secret)
    page.keyboard.press("Enter")

    expect(page.locator("#caller")).to_have_text("disputes-desk")


def test_docs_render_with_every_other_host_cut_off(browser: Browser, server: str) -> None:
    context = browser.new_context()
    elsewhere = cut_off(context, server)
    page = context.new_page()

    page.goto(f"{server}/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Consent ledger", timeout=WAIT_MS)
    expect(page.locator(".opblock-tag-section").first).to_be_visible(timeout=WAIT_MS)
    assert elsewhere == []
