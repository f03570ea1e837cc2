"""The disputes desk over HTTP, on each backend: sign-in, CSRF, look-ups "as known at", downloads, the access log.

The ledger holds the demo's history, recorded at 2026's times (`cli.demo`); the desk answers
from it as the people answering a claim would use it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from bearer import token
from fastapi.testclient import TestClient
from test_evidence import KEY, PUBLIC

from api.access_log import AccessLog
from api.app import create_app
from api.tokens import Scope, TokenStore
from audit.evidence import verify_bundle
from cli.demo import DemoClock, record_demo_history
from projections.keeper import open_view

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import FakeClock
    from fastapi import FastAPI

    from ledger.application import ConsentLedger
    from ledger.storage import Database

AFTER_THE_DEMO = datetime(2026, 12, 1, 9, tzinfo=UTC)
PAPER = {"subject_id": "cust-1002", "at": "2026-02-01T12:00", "purpose": "answering claim CL-2026-099"}
"""cust-1002's father signed on paper on 20 January; the form was entered on 16 February."""


def demo_app(ledger: ConsentLedger, database: Database, clock: FakeClock) -> FastAPI:
    """The API over the demo's history, with the ledger's signing key, read from a view of its own."""
    demo_clock = DemoClock(clock)
    ledger.clock = demo_clock
    record_demo_history(ledger, demo_clock)
    clock.now = AFTER_THE_DEMO
    app = create_app(ledger, open_view(database))
    app.state.signing_key = KEY
    return app


@pytest.fixture
def desk(ledger: ConsentLedger, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(demo_app(ledger, database, clock), base_url="https://testserver") as client:
        yield client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "every form carries its CSRF token"
    return found.group(1)


def signed_in(desk: TestClient, ledger: ConsentLedger, *scopes: Scope) -> str:
    """Sign in with a new token (the evidence scope unless others are named); the CSRF value the forms carry."""
    csrf = csrf_of(desk.get("/desk/").text)
    secret = token(ledger, "disputes-desk", *(scopes or (Scope.EVIDENCE,)))
    answer = desk.post("/desk/sign-in", data={"token": secret, "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf


def sentences(page: str) -> list[str]:
    return re.findall(r'<p class="sentence">(.*?)</p>', page)


def test_a_browser_without_a_session_is_asked_to_sign_in_and_gets_a_strict_csrf_cookie(desk: TestClient) -> None:
    page = desk.get("/desk/")

    assert page.status_code == 200
    assert 'action="/desk/sign-in"' in page.text
    assert 'type="password"' in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("desk_csrf=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/desk" in cookie
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["cache-control"] == "no-store"


def test_signing_in_keeps_the_token_in_an_httponly_strict_cookie_and_never_in_a_page(
    desk: TestClient, ledger: ConsentLedger
) -> None:
    csrf = csrf_of(desk.get("/desk/").text)
    secret = token(ledger, "disputes-desk", Scope.EVIDENCE)

    answer = desk.post("/desk/sign-in", data={"token": secret, "csrf": csrf}, follow_redirects=False)
    page = desk.get(answer.headers["location"])

    assert answer.status_code == 303
    session = answer.headers["set-cookie"]
    assert session.startswith(f"desk_session={secret};")
    assert all(flag in session for flag in ("HttpOnly", "SameSite=strict", "Path=/desk", "Secure"))
    assert page.status_code == 200
    assert 'action="/desk/look-up"' in page.text
    assert "disputes-desk" in page.text
    assert secret not in page.text


@pytest.mark.parametrize(("scopes", "status"), [((Scope.READ, Scope.AUDIT), 403), ((), 401)])
def test_only_a_known_token_with_the_evidence_scope_signs_in(
    desk: TestClient, ledger: ConsentLedger, scopes: tuple[Scope, ...], status: int
) -> None:
    csrf = csrf_of(desk.get("/desk/").text)
    secret = token(ledger, "reader", *scopes) if scopes else "not-a-token"

    answer = desk.post("/desk/sign-in", data={"token": secret, "csrf": csrf}, follow_redirects=False)

    assert answer.status_code == status
    assert "desk_session" not in answer.headers.get("set-cookie", "")
    assert 'id="error"' in answer.text


@pytest.mark.parametrize("action", ["look-up", "verify", "evidence", "sign-out"])
def test_a_form_without_the_csrf_cookies_value_is_refused_and_reads_nothing(
    desk: TestClient, ledger: ConsentLedger, action: str
) -> None:
    signed_in(desk, ledger)
    log = AccessLog(ledger)

    answer = desk.post(f"/desk/{action}", data={**PAPER, "csrf": "forged-elsewhere"}, follow_redirects=False)

    assert answer.status_code == 403
    assert '<p class="sentence">' not in answer.text
    assert log.entries(subject_id="cust-1002") == []


def test_a_look_up_answers_in_plain_words_and_as_known_at_changes_the_answer(
    desk: TestClient, ledger: ConsentLedger
) -> None:
    csrf = signed_in(desk, ledger)

    then = desk.post("/desk/look-up", data={**PAPER, "as_known_at": "2026-02-01T12:00", "csrf": csrf, "lang": "en"})
    now = desk.post("/desk/look-up", data={**PAPER, "as_known_at": "", "csrf": csrf, "lang": "en"})

    assert then.status_code == now.status_code == 200
    assert sentences(then.text) == [
        "At 1 February 2026, 12:00 (UTC+5), subject cust-1002 had no standing acceptance of policy dala-market-privacy."
    ]
    assert sentences(now.text) == [
        (
            "At 1 February 2026, 12:00 (UTC+5), subject cust-1002 had accepted version 1 of policy dala-market-privacy "
            "(accepted on 20 January 2026, 16:00 (UTC+5), recorded later on 16 February 2026, 11:20 (UTC+5)); "
            "version 1 was in effect."
        )
    ]
    assert 'class="entry late"' in now.text, "the paper consent is marked as recorded after T"
    assert 'class="entry late"' not in then.text, "as known then, it was not on record at all"
    assert "BLK-2026-003" in now.text
    assert 'value="2026-02-16T11:20:00"' in now.text, "a button for the moment the record changed"


def test_a_withdrawal_struck_out_shows_in_the_timeline_and_no_longer_in_the_answer(
    desk: TestClient, ledger: ConsentLedger
) -> None:
    csrf = signed_in(desk, ledger)
    asked = {"subject_id": "cust-1001", "at": "2026-03-05T18:00", "purpose": "claim CL-2026-014", "csrf": csrf}

    mistaken = desk.post("/desk/look-up", data={**asked, "as_known_at": "2026-03-05T18:00"})
    mended = desk.post("/desk/look-up", data={**asked, "as_known_at": ""})

    assert "had no standing acceptance" in sentences(mistaken.text)[0]
    assert "had accepted version 1" in sentences(mended.text)[0]
    assert 'class="entry struck"' in mended.text


def test_every_look_up_is_logged_with_its_purpose_before_it_is_shown(desk: TestClient, ledger: ConsentLedger) -> None:
    csrf = signed_in(desk, ledger)

    desk.post("/desk/look-up", data={**PAPER, "csrf": csrf})
    desk.post("/desk/verify", data={**PAPER, "csrf": csrf})

    logged = AccessLog(ledger).entries(subject_id="cust-1002")
    assert [(a.caller, a.route, a.purpose) for a in logged] == [
        ("disputes-desk", "POST /desk/look-up", PAPER["purpose"]),
        ("disputes-desk", "POST /desk/verify", PAPER["purpose"]),
    ]


@pytest.mark.parametrize(
    ("lang", "words"),
    [("kk", ("Жауап", "2026 жылғы 1 ақпан, 12:00 (UTC+5)")), ("ru", ("Ответ", "1 февраля 2026 г., 12:00 (UTC+5)"))],
)
def test_the_page_reads_in_kazakh_or_russian_with_the_facts_as_recorded(
    desk: TestClient, ledger: ConsentLedger, lang: str, words: tuple[str, str]
) -> None:
    csrf = signed_in(desk, ledger)

    page = desk.post("/desk/look-up", data={**PAPER, "csrf": csrf, "lang": lang})

    assert f'<html lang="{lang}">' in page.text
    for word in words:
        assert word in page.text
    assert "dala-market-privacy" in page.text
    assert "ORD-2026-00562" in page.text


def test_the_bundle_downloads_as_json_that_verifies_and_as_a_printable_page(
    desk: TestClient, ledger: ConsentLedger
) -> None:
    csrf = signed_in(desk, ledger)

    bundle = desk.post("/desk/evidence", data={**PAPER, "csrf": csrf, "format": "json"})
    page = desk.post("/desk/evidence", data={**PAPER, "csrf": csrf, "format": "html", "lang": "ru"})
    shown = desk.post("/desk/verify", data={**PAPER, "csrf": csrf})

    assert bundle.headers["content-disposition"] == 'attachment; filename="evidence-cust-1002-20260201T120000.json"'
    assert verify_bundle(bundle.content, PUBLIC).ok
    assert page.headers["content-disposition"].endswith('.ru.html"')
    assert "Доказательства согласия" in page.text
    assert 'id="verdict" class="verdict ok"' in shown.text
    assert "VERIFIED:" in shown.text


def test_a_revoked_token_ends_the_session_at_once(desk: TestClient, ledger: ConsentLedger) -> None:
    csrf = signed_in(desk, ledger)
    TokenStore(ledger).revoke("disputes-desk", ledger.clock())

    answer = desk.post("/desk/look-up", data={**PAPER, "csrf": csrf})

    assert answer.status_code == 401
    assert 'action="/desk/sign-in"' in answer.text
    assert AccessLog(ledger).entries(subject_id="cust-1002") == []


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"subject_id": "cust-9999"}, 404, "The ledger has no such subject."),
        ({"purpose": "  "}, 400, "Say why you look this subject up"),
        ({"at": "1 February"}, 400, "Choose a date and time"),
        ({"subject_id": "a/b"}, 400, "A subject id is 1-200 characters"),
    ],
)
def test_a_look_up_that_cannot_be_answered_says_why_in_words(
    desk: TestClient, ledger: ConsentLedger, change: dict[str, str], status: int, says: str
) -> None:
    csrf = signed_in(desk, ledger)

    answer = desk.post("/desk/look-up", data={**PAPER, **change, "csrf": csrf, "lang": "en"})

    assert answer.status_code == status
    assert says in answer.text
    assert AccessLog(ledger).entries() == []


def test_docs_name_only_assets_this_server_serves(desk: TestClient) -> None:
    page = desk.get("/docs")

    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert page.status_code == 200
    assert assets, "the page loads Swagger UI's script and stylesheet"
    for asset in assets:
        assert asset.startswith("/docs/assets/"), asset
        assert desk.get(asset).status_code == 200
    assert desk.get("/redoc").status_code == 404
