"""The words of the evidence page and the disputes desk in Kazakh, Russian and English, and times as people read them.

The facts stay as recorded (ids, references, recipients, hashes are never translated); only the
page's own sentences, the names of the kinds of event and the way a time is written change with
the language. A time is written in the operator's zone, to the second, with its offset, e.g.
`20 January 2026, 16:00 (UTC+5)`; seconds are shown when they are not zero, and the exact ISO
value stays in the page for machines (`<time datetime=...>`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal, cast

if TYPE_CHECKING:
    from datetime import tzinfo

Lang = Literal["kk", "ru", "en"]
LANGUAGES: Final[tuple[Lang, ...]] = ("kk", "ru", "en")
LANGUAGE_NAMES: Final[dict[Lang, str]] = {"kk": "Қазақша", "ru": "Русский", "en": "English"}

MONTHS: Final[dict[Lang, tuple[str, ...]]] = {
    "kk": (
        "қаңтар",
        "ақпан",
        "наурыз",
        "сәуір",
        "мамыр",
        "маусым",
        "шілде",
        "тамыз",
        "қыркүйек",
        "қазан",
        "қараша",
        "желтоқсан",
    ),
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def pick_language(given: str | None, accept_language: str | None) -> Lang:
    """The language asked for by parameter, else the first of `Accept-Language` we speak, else English."""
    if given in LANGUAGES:
        return cast("Lang", given)
    ranked = []
    for part in (accept_language or "").split(","):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight, tag.split("-")[0].strip().lower()))
    for weight, tag in sorted(ranked, key=lambda r: -r[0]):
        if weight > 0 and tag in LANGUAGES:
            return tag
    return "en"


def offset_text(moment: datetime) -> str:
    """`UTC+5`, `UTC-3:30`, `UTC+0`: the offset as a reader writes it."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def moment_text(value: object, zone: tzinfo, lang: Lang) -> str:
    """A time in the operator's zone as a person reads it; a value that is not a time is shown as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        return "" if value is None else str(value)
    local = value.astimezone(zone)
    clock = f"{local:%H:%M}" + (f":{local:%S}" if local.second else "")
    month = MONTHS[lang][local.month - 1]
    if lang == "kk":
        day = f"{local.year} жылғы {local.day} {month}"
    elif lang == "ru":
        day = f"{local.day} {month} {local.year} г."
    else:
        day = f"{local.day} {month} {local.year}"
    return f"{day}, {clock} ({offset_text(local)})"


KINDS: Final[dict[str, dict[Lang, str]]] = {
    "Opened": {"kk": "Жазба ашылды", "ru": "Запись открыта", "en": "Record opened"},
    "Adopted": {"kk": "Саясат қабылданды", "ru": "Политика принята", "en": "Policy adopted"},
    "VersionPublished": {
        "kk": "Саясат редакциясы жарияланды",
        "ru": "Опубликована редакция политики",
        "en": "Policy version published",
    },
    "ConsentRequested": {"kk": "Келісім сұралды", "ru": "Запрошено согласие", "en": "Consent requested"},
    "ConsentRefused": {"kk": "Келісім берілмеді", "ru": "В согласии отказано", "en": "Consent refused"},
    "ConsentGranted": {"kk": "Келісім берілді", "ru": "Согласие дано", "en": "Consent given"},
    "ConsentWithdrawn": {"kk": "Келісім кері қайтарылды", "ru": "Согласие отозвано", "en": "Consent withdrawn"},
    "WithdrawalRefused": {"kk": "Кері қайтарудан бас тартылды", "ru": "В отзыве отказано", "en": "Withdrawal refused"},
    "WrittenPermissionGranted": {
        "kk": "Жазбаша рұқсат берілді",
        "ru": "Дано письменное разрешение",
        "en": "Written permission given",
    },
    "DataDisclosed": {"kk": "Деректер берілді", "ru": "Данные переданы", "en": "Data disclosed"},
    "DataBlocked": {"kk": "Деректер бұғатталды", "ru": "Данные заблокированы", "en": "Data blocked"},
    "BlockLifted": {"kk": "Бұғаттау алынды", "ru": "Блокировка снята", "en": "Block lifted"},
    "VerificationCompleted": {"kk": "Тексеру аяқталды", "ru": "Проверка завершена", "en": "Verification completed"},
    "DataCorrected": {"kk": "Деректер түзетілді", "ru": "Данные исправлены", "en": "Data corrected"},
    "DataDestroyed": {"kk": "Деректер жойылды", "ru": "Данные уничтожены", "en": "Data destroyed"},
    "EntryRetracted": {"kk": "Жазба сызылды", "ru": "Запись вычеркнута", "en": "Entry struck out"},
    "RequestReceived": {"kk": "Сұрау қабылданды", "ru": "Запрос получен", "en": "Request received"},
    "RequestAnswered": {"kk": "Сұрауға жауап берілді", "ru": "На запрос дан ответ", "en": "Request answered"},
    "SubjectToldOfDisclosure": {
        "kk": "Субъектіге беру туралы хабарланды",
        "ru": "Субъект уведомлён о передаче",
        "en": "Subject told of a disclosure",
    },
}
"""The reader's words for each kind of event; an unknown kind is shown by its own name."""


def kind_text(kind: str, lang: Lang) -> str:
    """The name of a kind of event in `lang`."""
    return KINDS.get(kind, {}).get(lang, kind)


OBLIGATIONS: Final[dict[str, dict[Lang, str]]] = {
    "claim_answer": {"kk": "шағымға жауап беру", "ru": "ответ на претензию", "en": "answer the claim"},
    "withdrawal_handled": {"kk": "кері қайтаруды орындау", "ru": "исполнить отзыв", "en": "act on the withdrawal"},
    "correction": {"kk": "деректерді түзету", "ru": "исправить данные", "en": "correct the data"},
    "blocking": {"kk": "деректерді бұғаттау", "ru": "заблокировать данные", "en": "block the data"},
    "unblocking": {"kk": "бұғаттауды алу", "ru": "снять блокировку", "en": "lift the block"},
    "destruction": {"kk": "деректерді жою", "ru": "уничтожить данные", "en": "destroy the data"},
    "breach_to_authority": {
        "kk": "уәкілетті органға хабарлау",
        "ru": "уведомить уполномоченный орган",
        "en": "tell the authority of the breach",
    },
    "transfer_notice": {
        "kk": "субъектіге беру туралы хабарлау",
        "ru": "уведомить субъекта о передаче",
        "en": "tell the subject of the transfer",
    },
    "objection_answer": {"kk": "қарсылыққа жауап беру", "ru": "ответ на возражение", "en": "answer the objection"},
    "access_request": {
        "kk": "қол жеткізу сұрауына жауап беру",
        "ru": "ответ на запрос о доступе",
        "en": "answer the access request",
    },
}

STATUSES: Final[dict[str, dict[Lang, str]]] = {
    "open": {"kk": "мерзімі өтпеген", "ru": "срок не истёк", "en": "open"},
    "overdue": {"kk": "мерзімі өтіп кетті", "ru": "просрочено", "en": "overdue"},
    "met": {"kk": "мерзімінде орындалды", "ru": "исполнено в срок", "en": "met"},
    "met_late": {"kk": "кешігіп орындалды", "ru": "исполнено с опозданием", "en": "met late"},
}


def word(table: dict[str, dict[Lang, str]], key: object, lang: Lang) -> str:
    """`key` in `lang` from one of the tables above; an unknown key is shown as it is."""
    return table.get(str(key), {}).get(lang, str(key))


def accepted_sentence(  # noqa: PLR0917  (one sentence, each part a value the answer gives)
    lang: Lang,
    subject: str,
    at: str,
    policy: str,
    accepted: tuple[str, str, str | None] | None,
    in_effect: str | None,
    behind: bool,
) -> str:
    """The answer in plain words: `accepted` is (version, when accepted, when recorded if after T) or None."""
    if accepted is None:
        return {
            "kk": f"{at} жағдай бойынша {subject} субъектісінде {policy} саясатына қолданыстағы келісім болмаған.",
            "ru": f"На {at} у субъекта {subject} не было действующего согласия с политикой {policy}.",
            "en": f"At {at}, subject {subject} had no standing acceptance of policy {policy}.",
        }[lang]
    version, accepted_on, recorded_later = accepted
    text = {
        "kk": f"{at} жағдай бойынша {subject} субъектісі {policy} саясатының {version}-редакциясын қабылдаған "
        f"({accepted_on} қабылдаған" + (f", кейінірек, {recorded_later} тіркелген)" if recorded_later else ")"),
        "ru": f"На {at} субъект {subject} принял редакцию {version} политики {policy} (принято {accepted_on}"
        + (f", записано позже, {recorded_later})" if recorded_later else ")"),
        "en": f"At {at}, subject {subject} had accepted version {version} of policy {policy} (accepted on "
        f"{accepted_on}" + (f", recorded later on {recorded_later})" if recorded_later else ")"),
    }[lang]
    if in_effect is None:
        return (
            text
            + {
                "kk": "; ол кезде ешбір редакция күшіне енбеген.",
                "ru": "; ни одна редакция ещё не действовала.",
                "en": "; no version was in effect yet.",
            }[lang]
        )
    tail = {
        "kk": f"; {in_effect}-редакция күшінде болған" + (", яғни субъект артта қалған." if behind else "."),
        "ru": f"; действовала редакция {in_effect}" + (", то есть субъект отставал." if behind else "."),
        "en": f"; version {in_effect} was in effect" + (", so the subject was behind." if behind else "."),
    }
    return text + tail[lang]


NO_POLICY: Final[dict[Lang, str]] = {
    "kk": "{at} жағдай бойынша {subject} субъектісі ешбір саясаттың ешбір редакциясын қабылдамаған.",
    "ru": "На {at} субъект {subject} не принимал ни одной редакции ни одной политики.",
    "en": "At {at}, subject {subject} had accepted no version of any policy.",
}
