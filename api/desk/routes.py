"""The disputes desk under `/desk/`: sign in once, look a subject up at a moment, download and check the evidence.

Server-rendered pages (Jinja2), no script at all: every action is a form that works in any
browser, and the pages ask nothing of any other host (a Content-Security-Policy says so to the
browser too). The session is the bearer token itself, in an HttpOnly, SameSite=Strict cookie
scoped to `/desk`: the page never shows it or holds it in script, and every request looks it up
again, so a revoked token ends the session at once, in every process. Every form carries a
CSRF token that must match a cookie of its own (double submit; both cookies SameSite=Strict).

A look-up names its purpose once; the answer page carries it to the forms that follow (another
"as known at", the bundle, its check), and each of those reads is logged in the access log with
it, as every read of one subject's data is.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import APIRouter, Form, Query
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from api.deps import access_log, token_store
from api.desk.answer import Writer, answer
from api.desk.words import words
from api.routes.evidence import audit_log
from api.tokens import Scope, Token
from audit.evidence import build_bundle, bundle_bytes, verify_bundle
from audit.evidence_html import render
from audit.evidence_words import LANGUAGE_NAMES, LANGUAGES, Lang, pick_language
from ledger.errors import NotFound
from ledger.terms import SubjectId
from projections.projection import LedgerProjection

if TYPE_CHECKING:
    from datetime import tzinfo

    from ledger.application import ConsentLedger
    from projections.keeper import ViewKeeper
    from projections.questions import LedgerQuestions

router = APIRouter(prefix="/desk", include_in_schema=False)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

SESSION, CSRF = "desk_session", "desk_csrf"
"""The cookies: the signed-in token, and the value every form must echo."""

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""Nothing but our own stylesheet loads; forms post only here; no page is framed or cached (personal data)."""

SUBJECT = re.compile(r"^[^/\x00-\x1f\x7f]{1,200}$")
MAX_PURPOSE = 200
"""The longest purpose a look-up may declare, as the `X-Purpose` header allows."""
BROWSER_ENV = "CONSENT_LEDGER_BROWSER"
"""A chromium to print the evidence page to PDF with (e.g. the one `tests/browser.py` fetches)."""

Field = Annotated[str, Form()]
Optional = Annotated[str | None, Form()]


class Refused(Exception):
    """A look-up the desk cannot answer: the key of the words that say why, and the HTTP status."""

    def __init__(self, key: str, status: int = 400) -> None:
        super().__init__(key)
        self.key, self.status = key, status


def _zone() -> tzinfo:
    return LedgerProjection.calendar.zone


def _language(request: Request, given: str | None) -> Lang:
    return pick_language(given, request.headers.get("accept-language"))


def _page(request: Request, template: str, lang: Lang, status: int = 200, **values: Any) -> HTMLResponse:
    """A page in `lang`, with the security headers, and a CSRF cookie if the browser has none yet."""
    csrf = request.cookies.get(CSRF) or secrets.token_urlsafe(32)
    context = {
        "w": words(lang),
        "lang": lang,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "csrf": csrf,
        "zone": str(_zone()),
        **values,
    }
    response = templates.TemplateResponse(request, template, context, status_code=status, headers=SECURITY_HEADERS)
    if request.cookies.get(CSRF) != csrf:
        _cookie(request, response, CSRF, csrf)
    return response


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path="/desk", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def _signed_in(request: Request) -> Token | None:
    """The token of this browser's session, if it is known, not revoked and holds the evidence scope."""
    secret = request.cookies.get(SESSION)
    token = token_store(request).authenticate(secret) if secret else None
    return token if token is not None and Scope.EVIDENCE in token.scopes else None


def _forged(request: Request, csrf: str | None) -> bool:
    cookie = request.cookies.get(CSRF)
    return not (cookie and csrf and hmac.compare_digest(cookie, csrf))


@router.get("/")
def desk(request: Request, lang: Annotated[str | None, Query()] = None) -> HTMLResponse:
    """The look-up form, or the sign-in form when this browser is not signed in."""
    language = _language(request, lang)
    token = _signed_in(request)
    if token is None:
        return _page(request, "sign_in.html", language)
    return _page(request, "look_up.html", language, caller=token.name, form={})


@router.get("/desk.css")
def stylesheet() -> FileResponse:
    """The desk's one stylesheet (no inline style: the Content-Security-Policy allows only this)."""
    return FileResponse(HERE / "static/desk.css", media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.post("/sign-in")
def sign_in(request: Request, token: Field, csrf: Optional = None, lang: Optional = None) -> Response:
    """Keep a token with the evidence scope in this browser's session cookie."""
    language = _language(request, lang)
    if _forged(request, csrf):
        return _page(request, "sign_in.html", language, 403, error="csrf")
    found = token_store(request).authenticate(token.strip())
    if found is None:
        return _page(request, "sign_in.html", language, 401, error="bad_token")
    if Scope.EVIDENCE not in found.scopes:
        return _page(request, "sign_in.html", language, 403, error="no_scope")
    response = RedirectResponse(f"/desk/?lang={language}", status_code=303, headers=SECURITY_HEADERS)
    _cookie(request, response, SESSION, token.strip())
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf: Optional = None, lang: Optional = None) -> Response:
    """Forget this browser's session."""
    language = _language(request, lang)
    if _forged(request, csrf):
        return _page(request, "sign_in.html", language, 403, error="csrf")
    response = RedirectResponse(f"/desk/?lang={language}", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION, path="/desk")
    return response


@router.post("/look-up")
def look_up(  # noqa: PLR0917  (the form's fields)
    request: Request,
    subject_id: Optional = None,
    at: Optional = None,
    as_known_at: Optional = None,
    purpose: Optional = None,
    csrf: Optional = None,
    lang: Optional = None,
) -> Response:
    """The answer for one subject at one moment, as known at another, with its timeline."""
    return _answered(request, "look-up", subject_id, at, as_known_at, purpose, csrf, lang)


@router.post("/verify")
def verify(  # noqa: PLR0917  (the form's fields)
    request: Request,
    subject_id: Optional = None,
    at: Optional = None,
    as_known_at: Optional = None,
    purpose: Optional = None,
    csrf: Optional = None,
    lang: Optional = None,
) -> Response:
    """The same answer, with whether the evidence bundle for it verifies against the ledger's public key."""
    return _answered(request, "verify", subject_id, at, as_known_at, purpose, csrf, lang)


def _answered(  # noqa: PLR0917  (the form's fields)
    request: Request,
    action: str,
    subject_id: str | None,
    at: str | None,
    as_known_at: str | None,
    purpose: str | None,
    csrf: str | None,
    lang: str | None,
) -> Response:
    language = _language(request, lang)
    form = {"subject_id": subject_id or "", "at": at or "", "as_known_at": as_known_at or "", "purpose": purpose or ""}
    token = _signed_in(request)
    if token is None:
        return _page(request, "sign_in.html", language, 401)
    page: dict[str, Any] = {"caller": token.name, "form": form}
    if _forged(request, csrf):
        return _page(request, "look_up.html", language, 403, error="csrf", **page)
    try:
        subject, moment, known, why = _asked(form)
        ledger, questions = _read_side(request)
        ledger.subject(subject)  # NotFound if never recorded
        write = Writer(language, _zone())
        verdict = None
        if action == "verify":
            bundle = _bundle(request, ledger, subject, moment)
            verdict = verify_bundle(bundle_bytes(bundle), cast("Any", audit_log(request).signing_key).verifier)
        _logged(request, ledger, token, subject, f"POST /desk/{action}", why)
        shown = answer(questions, subject, moment, known, write)
        asked = {"at": write.moment(moment), "known": write.moment(known) if known else None}
    except Refused as e:
        return _page(request, "look_up.html", language, e.status, error=e.key, **page)
    except NotFound:
        return _page(request, "look_up.html", language, 404, error="unknown_subject", **page)
    return _page(request, "look_up.html", language, answer=shown, asked=asked, verdict=verdict, **page)


@router.post("/evidence")
def evidence(  # noqa: PLR0917  (the form's fields)
    request: Request,
    subject_id: Optional = None,
    at: Optional = None,
    purpose: Optional = None,
    format: Optional = None,  # noqa: A002  (the form field's name)
    csrf: Optional = None,
    lang: Optional = None,
) -> Response:
    """The evidence bundle as a download: JSON, its printable page, or that page printed to PDF."""
    language = _language(request, lang)
    form = {"subject_id": subject_id or "", "at": at or "", "as_known_at": "", "purpose": purpose or ""}
    token = _signed_in(request)
    if token is None:
        return _page(request, "sign_in.html", language, 401)
    if _forged(request, csrf):
        return _page(request, "look_up.html", language, 403, error="csrf", caller=token.name, form=form)
    try:
        subject, moment, _, why = _asked(form)
        ledger = cast("ConsentLedger", request.app.state.ledger)  # a bundle is built from the log, not the view
        bundle = _bundle(request, ledger, subject, moment)
        _logged(request, ledger, token, subject, "POST /desk/evidence", why)
        return _download(
            bundle, format, language, f"evidence-{re.sub(r'[^A-Za-z0-9._-]', '_', subject)}-{moment:%Y%m%dT%H%M%S}"
        )
    except Refused as e:
        return _page(request, "look_up.html", language, e.status, error=e.key, caller=token.name, form=form)
    except NotFound:
        return _page(request, "look_up.html", language, 404, error="unknown_subject", caller=token.name, form=form)


def _asked(form: dict[str, str]) -> tuple[SubjectId, datetime, datetime | None, str]:
    """The look-up's subject, moment, "as known at" and purpose, or `Refused` with what to mend."""
    subject = form["subject_id"].strip()
    if not SUBJECT.match(subject) or subject in {".", ".."}:
        raise Refused("bad_subject")
    why = form["purpose"].strip()
    if not 1 <= len(why) <= MAX_PURPOSE or re.search(r"[\x00-\x1f\x7f]", why):
        raise Refused("no_purpose")
    return SubjectId(subject), _local(form["at"]), _local(form["as_known_at"]) if form["as_known_at"] else None, why


def _local(value: str) -> datetime:
    """A date-time field's value (`2026-02-01T12:00`, seconds optional): a time in the operator's zone."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Refused("bad_time") from None
    if moment.tzinfo is not None or not 1900 <= moment.year <= 9998:  # noqa: PLR2004  (the ledger's date bounds)
        raise Refused("bad_time")
    return moment.replace(tzinfo=_zone())


def _read_side(request: Request) -> tuple[ConsentLedger, LedgerQuestions]:
    """The ledger and its questions, with the view caught up to the newest fact: no stale answer at the desk."""
    state = request.app.state
    if state.questions is None:
        raise Refused("error", 503)
    keeper = cast("ViewKeeper | None", state.keeper)
    if keeper is not None:
        keeper.catch_up()
    return cast("ConsentLedger", state.ledger), cast("LedgerQuestions", state.questions)


def _bundle(request: Request, ledger: ConsentLedger, subject: SubjectId, moment: datetime) -> dict[str, object]:
    log = audit_log(request)
    if log.signing_key is None:
        raise Refused("no_key", 503)
    return build_bundle(ledger, log, subject, at=moment, now=ledger.clock())


def _logged(  # noqa: PLR0917  (who read whose data, how and why)
    request: Request, ledger: ConsentLedger, token: Token, subject: SubjectId, route: str, why: str
) -> None:
    """Keep the read in the access log before anything of it is shown."""
    access_log(request).record(at=ledger.clock(), caller=token.name, subject_id=subject, route=route, purpose=why)


def _download(bundle: dict[str, object], wanted: str | None, language: Lang, name: str) -> Response:
    """The bundle as a file to keep: JSON (default), the printable page, or that page as PDF."""
    if wanted == "html":
        body, filename, media_type = render(bundle, language, _zone()).encode(), f"{name}.{language}.html", "text/html"
    elif wanted == "pdf":
        body, filename, media_type = (
            _pdf(render(bundle, language, _zone())),
            f"{name}.{language}.pdf",
            "application/pdf",
        )
    else:
        body, filename, media_type = bundle_bytes(bundle), f"{name}.json", "application/json"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


def _pdf(page: str) -> bytes:
    """The printable page printed by a headless chromium (`CONSENT_LEDGER_BROWSER`), nothing fetched meanwhile."""
    browser = os.environ.get(BROWSER_ENV)
    if not browser:
        raise Refused("no_pdf", 503)
    with tempfile.TemporaryDirectory(prefix="desk-pdf-") as folder:
        source, printed = Path(folder, "page.html"), Path(folder, "page.pdf")
        source.write_text(page)
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", f"--user-data-dir={folder}/profile",
            "--no-pdf-header-footer", f"--print-to-pdf={printed}", source.as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(command, capture_output=True, timeout=60, check=True)  # noqa: S603  (the operator's browser)
        except (OSError, subprocess.SubprocessError):
            raise Refused("no_pdf", 503) from None
        if not printed.exists():
            raise Refused("no_pdf", 503)
        return printed.read_bytes()
