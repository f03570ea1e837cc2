"""An evidence bundle as one printable HTML page a judge can read, with nothing loaded from elsewhere.

The page is built from the bundle alone (never from the ledger), so what it shows is what the
bundle proves: the answer in one sentence, a timeline of every proven event with both of its
times (late-recorded ones marked), the text hashes of the versions named (clause 9.1), and what
an expert needs to verify the bundle offline: the signed checkpoint, tree size, root and public
key. Every value is escaped; the CSS is inline and prints on A4 without the browser's help.
Parts have stable ids and classes (`#answer`, `#timeline`, `.event`, `#verification`) so tests
and readers can find them.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

KIND_LABELS = {
    "Opened": "Record opened",
    "Adopted": "Policy adopted",
    "VersionPublished": "Policy version published",
    "ConsentGranted": "Consent given",
    "ConsentWithdrawn": "Consent withdrawn",
    "WithdrawalRefused": "Withdrawal refused",
    "WrittenPermissionGranted": "Written permission given",
    "DataDisclosed": "Data disclosed",
    "DataBlocked": "Data blocked",
    "BlockLifted": "Block lifted",
    "VerificationCompleted": "Verification completed",
    "DataCorrected": "Data corrected",
    "DataDestroyed": "Data destroyed",
    "EntryRetracted": "Entry retracted",
    "RequestReceived": "Request received",
    "RequestAnswered": "Request answered",
}
"""The judge's words for each kind of event; an unknown kind is shown by its own name."""

STYLE = """
body { font: 11pt/1.45 Georgia, 'Times New Roman', serif; color: #111; margin: 2em auto; max-width: 60em; }
h1 { font-size: 17pt; margin-bottom: .2em; } h2 { font-size: 13pt; border-bottom: 1px solid #999; margin-top: 1.6em; }
.meta, .note { color: #444; font-size: 9.5pt; }
#answer p.sentence { font-size: 12.5pt; border-left: 4px solid #333; padding: .4em .8em; background: #f4f4f4; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
th, td { border: 1px solid #bbb; padding: .25em .4em; text-align: left; vertical-align: top; }
th { background: #eee; }
tr.late td { background: #fff4d6; }
.badge { font-size: 8pt; border: 1px solid #a60; color: #a60; padding: 0 .3em; white-space: nowrap; }
code, pre { font-family: 'DejaVu Sans Mono', Consolas, monospace; font-size: 8.5pt; word-break: break-all; }
pre { white-space: pre-wrap; background: #f8f8f8; border: 1px solid #ddd; padding: .5em; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; max-width: none; } tr, pre { page-break-inside: avoid; }
  #answer p.sentence { background: none; }
}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _list(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _map(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def render(bundle: Mapping[str, object]) -> str:
    """The page for one bundle: header and answer, timeline, text hashes, personal values apart, verification."""
    subject, at = _e(bundle.get("subject_id")), _e(bundle.get("at"))
    answer = _map(bundle.get("answer"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Evidence: subject {subject} at {at}</title>",
        f"<style>{STYLE}</style></head><body>",
        '<header id="header">',
        f'<h1>Evidence of consent: subject <span id="subject">{subject}</span></h1>',
        (f'<p class="meta">Moment asked about (T): <strong id="moment">{at}</strong>. '
        f"As known to the ledger at {_e(bundle.get('as_known_at'))}.</p>"),
        "</header>",
        '<section id="answer"><h2>Answer</h2>',
        f'<p class="sentence">{_e(answer.get("sentence"))}</p>',
        *_policy_table(_list(answer.get("policies"))),
        "</section>",
        *_timeline(_list(bundle.get("events"))),
        *_deadlines(_list(bundle.get("open_deadlines"))),
        *_personal(_map(bundle.get("not_part_of_proof"))),
        *_verification(bundle),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _policy_table(policies: list[Mapping[str, object]]) -> Iterable[str]:
    if not policies:
        return []
    rows = [
        "<tr>"
        f"<td>{_e(p.get('policy_id'))}</td><td>{_e(p.get('accepted_version') or '—')}</td>"
        f"<td>{_e(p.get('accepted_occurred_at') or '—')}</td><td>{_e(p.get('accepted_recorded_at') or '—')}</td>"
        f"<td>{_e(p.get('in_effect_version') or '—')}</td><td>{'yes' if p.get('behind') else 'no'}</td>"
        f"<td><code>{_e(p.get('accepted_text_sha256') or '—')}</code></td>"
        "</tr>"
        for p in policies
    ]
    hashes = [
        f'<li class="text-hash">policy {_e(p.get("policy_id"))}, version {_e(p.get("in_effect_version"))}, '
        f"{_e(lang)}: <code>{_e(digest)}</code></li>"
        for p in policies
        for lang, digest in _map(p.get("in_effect_text_sha256")).items()
    ]
    return [
        ('<table id="policies"><thead><tr><th>Policy</th><th>Version accepted</th><th>Accepted (occurred)</th>'
        "<th>Accepted (recorded)</th><th>Version in effect at T</th><th>Behind</th>"
        "<th>SHA-256 of the text accepted</th></tr></thead><tbody>"),
        *rows,
        "</tbody></table>",
        '<h2>Policy text hashes</h2><ul id="text-hashes">',
        *hashes,
        "</ul>",
        ('<p class="note">A policy text is identified by the SHA-256 of its exact UTF-8 bytes (clause 9.1): '
        "hashing the text the operator produces must give this value.</p>"),
    ]


def _timeline(events: list[Mapping[str, object]]) -> Iterable[str]:
    rows = []
    for e in events:
        late = bool(e.get("recorded_after_t"))
        kind = str(e.get("kind"))
        details = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in sorted(_map(e.get("summary")).items()))
        badge = ' <span class="badge late-mark">recorded after T</span>' if late else ""
        after = ' <span class="badge">after T</span>' if e.get("occurred_after_t") else ""
        rows.append(
            f'<tr class="event{" late" if late else ""}" data-kind="{_e(kind)}" '
            f'data-position="{_e(e.get("position"))}">'
            f"<td>{_e(e.get('position'))}</td><td>{_e(KIND_LABELS.get(kind, kind))}{badge}{after}</td>"
            f"<td>{_e(e.get('occurred_at'))}</td><td>{_e(e.get('recorded_at'))}</td><td>{details}</td></tr>"
        )
    return [
        '<section id="timeline"><h2>Timeline</h2>',
        ('<p class="note">Every event below is in the signed log (see Verification). "Occurred" is when it '
        'happened, "recorded" when the ledger recorded it; an event recorded after T is marked.</p>'),
        ("<table><thead><tr><th>Log position</th><th>Event</th><th>Occurred</th><th>Recorded</th><th>Details</th>"
        "</tr></thead><tbody>"),
        *rows,
        "</tbody></table></section>",
    ]


def _deadlines(deadlines: list[Mapping[str, object]]) -> Iterable[str]:
    items = [
        f'<li class="deadline">{_e(d.get("obligation"))} ({_e(d.get("reference"))}): due {_e(d.get("due_at"))}, '
        f"{_e(d.get('status'))}</li>"
        for d in deadlines
    ]
    head = '<section id="deadlines"><h2>Open deadlines</h2>'
    return [head, "<ul>", *(items or ["<li>None.</li>"]), "</ul></section>"]


def _personal(apart: Mapping[str, object]) -> Iterable[str]:
    values = apart.get("personal_values")
    head = ['<section id="personal-values"><h2>Personal values (not part of the proof)</h2>',
            f'<p class="note">{_e(apart.get("label"))}</p>']
    if not isinstance(values, list):
        return [*head, f"<p>Not given: {_e(apart.get('why_absent'))}.</p></section>"]
    items = [
        f"<li>entry {_e(v.get('version'))} ({_e(v.get('kind'))}): "
        + ", ".join(f"{_e(k)}: {_e(x)}" for k, x in _map(v.get("fields")).items())
        + "</li>"
        for v in _list(values)
    ]
    return [*head, "<ul>", *(items or ["<li>None recorded.</li>"]), "</ul></section>"]


def _verification(bundle: Mapping[str, object]) -> Iterable[str]:
    checkpoint = _map(bundle.get("checkpoint"))
    return [
        '<section id="verification"><h2>Verification</h2>',
        ('<p class="note">Every event in the timeline is carried in the bundle as the exact bytes the ledger stored, '
        "with its RFC 9162 inclusion proof against the signed checkpoint below. Anyone can check it without our "
        "servers: <code>consent-ledger audit verify --bundle FILE --public-key KEY</code>.</p>"),
        "<dl>",
        f'<dt>Checkpoint</dt><dd id="checkpoint-number">{_e(checkpoint.get("number"))}</dd>',
        f'<dt>Tree size</dt><dd id="tree-size">{_e(checkpoint.get("tree_size"))} events</dd>',
        f'<dt>Root hash (SHA-256)</dt><dd><code id="root">{_e(checkpoint.get("root"))}</code></dd>',
        f'<dt>Public key</dt><dd><code id="public-key">{_e(bundle.get("public_key"))}</code></dd>',
        "</dl>",
        f'<h3>Signed checkpoint</h3><pre id="checkpoint-note">{_e(checkpoint.get("note"))}</pre>',
        "</section>",
    ]
