"""An evidence bundle as one printable HTML page a judge can read, with nothing loaded from elsewhere.

The page is built from the bundle alone (never from the ledger), so what it shows is what the
bundle proves: the answer in one sentence, a timeline of every proven event with both of its
times (late-recorded ones marked), the text hashes of the versions named (clause 9.1), and what
an expert needs to verify the bundle offline: the signed checkpoint, tree size, root and public
key. Every value is escaped; the CSS is inline and prints on A4 without the browser's help.
Parts have stable ids and classes (`#answer`, `#timeline`, `.event`, `#verification`) so tests
and readers can find them.

The page reads in Kazakh, Russian or English (`language`), with times in the operator's zone
(`zone`) as people write them; the facts stay as recorded, and every time keeps its exact ISO
value in a `<time datetime=...>` element.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from audit.evidence_statements import DESTROYED, NO_KEY
from audit.evidence_words import NO_POLICY, OBLIGATIONS, STATUSES, Lang, accepted_sentence, kind_text, moment_text, word

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import tzinfo

OPERATOR_ZONE: Final = ZoneInfo("Asia/Almaty")
"""The zone times are shown in when the caller names none (CONSENT_LEDGER_TIMEZONE's default)."""

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


PAGE: Final[dict[str, dict[Lang, str]]] = {
    "title": {
        "kk": "Дәлел: {subject} субъектісі, {at}",
        "ru": "Доказательства: субъект {subject}, {at}",
        "en": "Evidence: subject {subject} at {at}",
    },
    "h1": {
        "kk": "Келісімнің дәлелі: субъект",
        "ru": "Доказательства согласия: субъект",
        "en": "Evidence of consent: subject",
    },
    "moment": {"kk": "Сұралған сәт (T)", "ru": "Момент, о котором вопрос (T)", "en": "Moment asked about (T)"},
    "known": {"kk": "Леджер білген күйі", "ru": "Как было известно реестру на", "en": "As known to the ledger at"},
    "answer": {"kk": "Жауап", "ru": "Ответ", "en": "Answer"},
    "policy": {"kk": "Саясат", "ru": "Политика", "en": "Policy"},
    "accepted_version": {"kk": "Қабылданған редакция", "ru": "Принятая редакция", "en": "Version accepted"},
    "accepted_occurred": {"kk": "Қабылданған (болған)", "ru": "Принято (когда)", "en": "Accepted (occurred)"},
    "accepted_recorded": {"kk": "Қабылданған (тіркелген)", "ru": "Принято (записано)", "en": "Accepted (recorded)"},
    "in_effect": {
        "kk": "T сәтінде күшіндегі редакция",
        "ru": "Редакция, действовавшая в T",
        "en": "Version in effect at T",
    },
    "behind": {"kk": "Артта қалған", "ru": "Отставал", "en": "Behind"},
    "accepted_hash": {
        "kk": "Қабылданған мәтіннің SHA-256",
        "ru": "SHA-256 принятого текста",
        "en": "SHA-256 of the text accepted",
    },
    "yes": {"kk": "иә", "ru": "да", "en": "yes"},
    "no": {"kk": "жоқ", "ru": "нет", "en": "no"},
    "hashes": {"kk": "Саясат мәтіндерінің хэштері", "ru": "Хэши текстов политики", "en": "Policy text hashes"},
    "hash_item": {
        "kk": "{policy} саясаты, {version}-редакция, {lang}",
        "ru": "политика {policy}, редакция {version}, {lang}",
        "en": "policy {policy}, version {version}, {lang}",
    },
    "hash_note": {
        "kk": "Саясат мәтіні оның дәл UTF-8 байттарының SHA-256 мәнімен анықталады (9.1-тармақ): оператор "
        "ұсынған мәтіннің хэші осы мәнге тең болуы тиіс.",
        "ru": "Текст политики определяется SHA-256 его точных байтов UTF-8 (пункт 9.1): хэш текста, который "
        "представит оператор, должен совпасть с этим значением.",
        "en": "A policy text is identified by the SHA-256 of its exact UTF-8 bytes (clause 9.1): hashing the text "
        "the operator produces must give this value.",
    },
    "timeline": {"kk": "Оқиғалар хронологиясы", "ru": "Хронология", "en": "Timeline"},
    "timeline_note": {
        "kk": "Төмендегі әр оқиға қол қойылған журналда бар (Тексеру бөлімін қараңыз). «Болған» — оқиға болған "
        "уақыт, «тіркелген» — леджер оны жазған уақыт; T-дан кейін тіркелген оқиға белгіленген.",
        "ru": "Каждое событие ниже есть в подписанном журнале (см. «Проверка»). «Когда» — время события, "
        "«записано» — время записи в реестр; событие, записанное после T, отмечено.",
        "en": 'Every event below is in the signed log (see Verification). "Occurred" is when it happened, '
        '"recorded" when the ledger recorded it; an event recorded after T is marked.',
    },
    "position": {"kk": "Журналдағы орны", "ru": "Позиция в журнале", "en": "Log position"},
    "event": {"kk": "Оқиға", "ru": "Событие", "en": "Event"},
    "occurred": {"kk": "Болған", "ru": "Когда", "en": "Occurred"},
    "recorded": {"kk": "Тіркелген", "ru": "Записано", "en": "Recorded"},
    "details": {"kk": "Мәліметтер", "ru": "Подробности", "en": "Details"},
    "recorded_after": {"kk": "T-дан кейін тіркелген", "ru": "записано после T", "en": "recorded after T"},
    "after": {"kk": "T-дан кейін", "ru": "после T", "en": "after T"},
    "deadlines": {"kk": "Ашық мерзімдер", "ru": "Открытые сроки", "en": "Open deadlines"},
    "due": {"kk": "мерзімі", "ru": "срок", "en": "due"},
    "none": {"kk": "Жоқ.", "ru": "Нет.", "en": "None."},
    "personal": {"kk": "Дербес мәндер", "ru": "Персональные значения", "en": "Personal values"},
    "personal_note": {
        "kk": "Әр мән дәлелденген оқиғаның шифрланған байттарынан субъектінің осы бумаға қоса берілген кілтімен "
        "ашылған (AES-GCM субъект пен өрісті де растайды); тексеруші әрқайсысын өзі ашып, салыстырады.",
        "ru": "Каждое значение раскрыто из зашифрованных байтов доказанного события ключом субъекта, приложенным "
        "к пакету (AES-GCM подтверждает и субъекта, и поле); проверка сама раскрывает каждое и сверяет.",
        "en": "Each value is opened from the sealed bytes of a proven event with the subject's key, which this bundle "
        "carries (AES-GCM authenticates the subject and the field too); verification opens each one itself and "
        "compares.",
    },
    "not_given": {"kk": "Берілмеген", "ru": "Не приводятся", "en": "Not given"},
    "entry": {"kk": "жазба", "ru": "запись", "en": "entry"},
    "none_recorded": {"kk": "Ештеңе тіркелмеген.", "ru": "Ничего не записано.", "en": "None recorded."},
    "verification": {"kk": "Тексеру", "ru": "Проверка", "en": "Verification"},
    "verification_note": {
        "kk": "Хронологиядағы әр оқиға бумада леджер сақтаған дәл байттармен, төмендегі қол қойылған бақылау "
        "нүктесіне қатысты RFC 9162 енгізу дәлелімен бірге берілген, ал осы беттегі әр тұжырымды тексеруші сол "
        "оқиғалардан қайта есептейді. Оны біздің серверлерсіз кез келген адам тексере алады:",
        "ru": "Каждое событие хронологии дано в пакете точными байтами, которые хранит реестр, с доказательством "
        "включения по RFC 9162 относительно подписанной контрольной точки ниже, и каждое утверждение этой "
        "страницы проверка пересчитывает по этим событиям. Проверить его может любой, без наших серверов:",
        "en": "Every event in the timeline is carried in the bundle as the exact bytes the ledger stored, with its "
        "RFC 9162 inclusion proof against the signed checkpoint below, and verification recomputes every "
        "statement on this page from those events. Anyone can check it without our servers:",
    },
    "records": {"kk": "Толық берілген жазбалар", "ru": "Записи, приложенные целиком", "en": "Records carried whole"},
    "record_item": {
        "kk": "{kind} {name}: 1–{events} оқиғалар, соңғысы {last} тіркелген",
        "ru": "{kind} {name}: события 1–{events}, последнее записано {last}",
        "en": "{kind} {name}: events 1–{events}, the last recorded {last}",
    },
    "records_note": {
        "kk": "Әр жазба бірінші оқиғасынан бастап үзіліссіз берілген, жоғарыдағы әр тұжырым сол бойынша қайта "
        "есептеледі; соңғы көрсетілгеннен кейін тіркелген оқиға бұл бумаға кірмейді.",
        "ru": "Каждая запись приложена с первого события без пропусков, и каждое утверждение выше пересчитывается "
        "по ней; событие, записанное после последнего показанного, в пакет не входит.",
        "en": "Each record is carried from its first event with no gap, and every statement above is recomputed "
        "from it; an event recorded after the last one shown is not in this bundle.",
    },
    "subject": {"kk": "субъект", "ru": "субъект", "en": "subject"},
    "policy_record": {"kk": "саясат", "ru": "политика", "en": "policy"},
    "struck": {"kk": "сызылған", "ru": "вычеркнуто", "en": "struck out"},
    "tree_size": {"kk": "Ағаш өлшемі", "ru": "Размер дерева", "en": "Tree size"},
    "events": {"kk": "оқиға", "ru": "событий", "en": "events"},
    "root": {"kk": "Түбір хэші (SHA-256)", "ru": "Корневой хэш (SHA-256)", "en": "Root hash (SHA-256)"},
    "public_key": {"kk": "Ашық кілт", "ru": "Открытый ключ", "en": "Public key"},
    "signed": {"kk": "Қол қойылған бақылау нүктесі", "ru": "Подписанная контрольная точка", "en": "Signed checkpoint"},
}
"""The page's own sentences; the facts in between stay as recorded."""

WHY_ABSENT: Final[dict[str, dict[Lang, str]]] = {
    DESTROYED: {
        "kk": "субъектінің деректері жойылып, кілті өшірілген (1-бап 6-тармақ)",
        "ru": "данные субъекта уничтожены, его ключ удалён (ст. 1 п. 6)",
        "en": DESTROYED,
    },
    NO_KEY: {
        "kk": "субъектінің кілті бұл бумаға қоса берілмеген (ол негізгі кілтсіз жасалған)",
        "ru": "ключ субъекта к пакету не приложен (пакет сделан без мастер-ключа)",
        "en": NO_KEY,
    },
}
"""Why a bundle shows no personal value, in the page's language (the bundle says it in English)."""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _list(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _map(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


class _Words:
    """The page's words and times in one language and zone."""

    def __init__(self, language: Lang, zone: tzinfo) -> None:
        self.lang, self.zone = language, zone

    def __getitem__(self, key: str) -> str:
        return PAGE[key][self.lang]

    def when(self, value: object) -> str:
        """A `<time>` element: the time as people read it, its exact value in `datetime`."""
        if value is None or value == "":
            return "—"
        return f'<time datetime="{_e(value)}">{_e(moment_text(value, self.zone, self.lang))}</time>'

    def text(self, value: object) -> str:
        """A time as plain text (for sentences and the title)."""
        return moment_text(value, self.zone, self.lang)


def render(bundle: Mapping[str, object], language: Lang = "en", zone: tzinfo | None = None) -> str:
    """The page for one bundle: header and answer, timeline, text hashes, personal values, verification.

    Times are shown in `zone`, else in the operator's zone the bundle names, else in Almaty's.
    """
    w = _Words(language, zone or _zone_of(bundle))
    subject, at = _e(bundle.get("subject_id")), bundle.get("at")
    answer = _map(bundle.get("answer"))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{language}"><head><meta charset="utf-8">',
        f"<title>{_e(w['title'].format(subject=bundle.get('subject_id'), at=w.text(at)))}</title>",
        f"<style>{STYLE}</style></head><body>",
        '<header id="header">',
        f'<h1>{w["h1"]} <span id="subject">{subject}</span></h1>',
        (
            f'<p class="meta">{w["moment"]}: <strong id="moment">{w.when(at)}</strong>. '
            f"{w['known']} {w.when(bundle.get('as_known_at'))}.</p>"
        ),
        "</header>",
        f'<section id="answer"><h2>{w["answer"]}</h2>',
        f'<p class="sentence">{_e(_sentence(bundle, w))}</p>',
        *_policy_table(_list(answer.get("policies")), w),
        "</section>",
        *_timeline(_list(bundle.get("events")), w),
        *_deadlines(_list(bundle.get("open_deadlines")), w),
        *_personal(_map(bundle.get("personal_values")), w),
        *_verification(bundle, w),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _zone_of(bundle: Mapping[str, object]) -> tzinfo:
    try:
        return ZoneInfo(str(bundle.get("zone")))
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return OPERATOR_ZONE


def _sentence(bundle: Mapping[str, object], w: _Words) -> str:
    """The answer in the page's language, from the bundle's own fields (the facts as recorded)."""
    subject, at = str(bundle.get("subject_id")), w.text(bundle.get("at"))
    policies = _list(_map(bundle.get("answer")).get("policies"))
    if not policies:
        return NO_POLICY[w.lang].format(at=at, subject=subject)
    sentences = []
    for p in policies:
        accepted = None
        if p.get("accepted_version"):
            later = w.text(p.get("accepted_recorded_at")) if p.get("accepted_recorded_after_t") else None
            accepted = (str(p.get("accepted_version")), w.text(p.get("accepted_occurred_at")), later)
        in_effect = str(p["in_effect_version"]) if p.get("in_effect_version") else None
        sentences.append(
            accepted_sentence(w.lang, subject, at, str(p.get("policy_id")), accepted, in_effect, bool(p.get("behind")))
        )
    return " ".join(sentences)


def _policy_table(policies: list[Mapping[str, object]], w: _Words) -> Iterable[str]:
    if not policies:
        return []
    rows = [
        "<tr>"
        f"<td>{_e(p.get('policy_id'))}</td><td>{_e(p.get('accepted_version') or '—')}</td>"
        f"<td>{w.when(p.get('accepted_occurred_at'))}</td><td>{w.when(p.get('accepted_recorded_at'))}</td>"
        f"<td>{_e(p.get('in_effect_version') or '—')}</td><td>{w['yes'] if p.get('behind') else w['no']}</td>"
        f"<td><code>{_e(p.get('accepted_text_sha256') or '—')}</code></td>"
        "</tr>"
        for p in policies
    ]
    hashes = [
        '<li class="text-hash">'
        + _e(w["hash_item"].format(policy=p.get("policy_id"), version=p.get("in_effect_version"), lang=lang))
        + f": <code>{_e(digest)}</code></li>"
        for p in policies
        for lang, digest in _map(p.get("in_effect_text_sha256")).items()
    ]
    return [
        (
            f'<table id="policies"><thead><tr><th>{w["policy"]}</th><th>{w["accepted_version"]}</th>'
            f"<th>{w['accepted_occurred']}</th><th>{w['accepted_recorded']}</th><th>{w['in_effect']}</th>"
            f"<th>{w['behind']}</th><th>{w['accepted_hash']}</th></tr></thead><tbody>"
        ),
        *rows,
        "</tbody></table>",
        f'<h2>{w["hashes"]}</h2><ul id="text-hashes">',
        *hashes,
        "</ul>",
        f'<p class="note">{w["hash_note"]}</p>',
    ]


def _timeline(events: list[Mapping[str, object]], w: _Words) -> Iterable[str]:
    rows = []
    for e in events:
        late = bool(e.get("recorded_after_t"))
        kind = str(e.get("kind"))
        details = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in sorted(_map(e.get("summary")).items()))
        badge = f' <span class="badge late-mark">{w["recorded_after"]}</span>' if late else ""
        if e.get("struck_out"):
            badge += f' <span class="badge struck">{w["struck"]}</span>'
        after = f' <span class="badge">{w["after"]}</span>' if e.get("occurred_after_t") else ""
        rows.append(
            f'<tr class="event{" late" if late else ""}" data-kind="{_e(kind)}" '
            f'data-position="{_e(e.get("position"))}">'
            f"<td>{_e(e.get('position'))}</td><td>{_e(kind_text(kind, w.lang))}{badge}{after}</td>"
            f"<td>{w.when(e.get('occurred_at'))}</td><td>{w.when(e.get('recorded_at'))}</td><td>{details}</td></tr>"
        )
    return [
        f'<section id="timeline"><h2>{w["timeline"]}</h2>',
        f'<p class="note">{w["timeline_note"]}</p>',
        (
            f"<table><thead><tr><th>{w['position']}</th><th>{w['event']}</th><th>{w['occurred']}</th>"
            f"<th>{w['recorded']}</th><th>{w['details']}</th></tr></thead><tbody>"
        ),
        *rows,
        "</tbody></table></section>",
    ]


def _deadlines(deadlines: list[Mapping[str, object]], w: _Words) -> Iterable[str]:
    items = [
        f'<li class="deadline">{_e(word(OBLIGATIONS, d.get("obligation"), w.lang))} ({_e(d.get("reference"))}): '
        f"{w['due']} {w.when(d.get('due_at'))}, {_e(word(STATUSES, d.get('status'), w.lang))}</li>"
        for d in deadlines
    ]
    head = f'<section id="deadlines"><h2>{w["deadlines"]}</h2>'
    return [head, "<ul>", *(items or [f"<li>{w['none']}</li>"]), "</ul></section>"]


def _personal(shown: Mapping[str, object], w: _Words) -> Iterable[str]:
    values = shown.get("values")
    head = [f'<section id="personal-values"><h2>{w["personal"]}</h2>', f'<p class="note">{w["personal_note"]}</p>']
    if not isinstance(values, list):
        why = str(shown.get("why_absent"))
        return [*head, f"<p>{w['not_given']}: {_e(WHY_ABSENT.get(why, {}).get(w.lang, why))}.</p></section>"]
    items = [
        f"<li>{w['entry']} {_e(v.get('version'))} ({_e(kind_text(str(v.get('kind')), w.lang))}): "
        + ", ".join(f"{_e(k)}: {_e(x)}" for k, x in _map(v.get("fields")).items())
        + "</li>"
        for v in _list(values)
    ]
    return [*head, "<ul>", *(items or [f"<li>{w['none_recorded']}</li>"]), "</ul></section>"]


def _record(record: Mapping[str, object], w: _Words) -> str:
    """One record carried whole, in words: whose, how many events, when the last was recorded."""
    kind = w["subject"] if record.get("kind") == "subject" else w["policy_record"]
    last = w.text(record.get("last_recorded_at"))
    return w["record_item"].format(kind=kind, name=record.get("name"), events=record.get("events"), last=last)


def _verification(bundle: Mapping[str, object], w: _Words) -> Iterable[str]:
    checkpoint = _map(bundle.get("checkpoint"))
    return [
        f'<section id="verification"><h2>{w["verification"]}</h2>',
        (
            f'<p class="note">{w["verification_note"]} '
            "<code>consent-ledger audit verify --bundle FILE --public-key KEY</code>.</p>"
        ),
        f'<h3>{w["records"]}</h3><ul id="records">',
        *(f'<li class="record">{_e(_record(r, w))}</li>' for r in _list(bundle.get("records"))),
        f'</ul><p class="note">{w["records_note"]}</p>',
        "<dl>",
        f'<dt>{w["tree_size"]}</dt><dd id="tree-size">{_e(checkpoint.get("tree_size"))} {w["events"]}</dd>',
        f'<dt>{w["root"]}</dt><dd><code id="root">{_e(checkpoint.get("root"))}</code></dd>',
        f'<dt>{w["public_key"]}</dt><dd><code id="public-key">{_e(bundle.get("public_key"))}</code></dd>',
        "</dl>",
        f'<h3>{w["signed"]}</h3><pre id="checkpoint-note">{_e(checkpoint.get("note"))}</pre>',
        "</section>",
    ]
