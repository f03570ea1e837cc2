"""The disputes desk's own words in Kazakh, Russian and English; the facts it shows stay as recorded.

Each entry is (Kazakh, Russian, English), in the order of `audit.evidence_words.LANGUAGES`.
"""

from __future__ import annotations

from typing import Final

from audit.evidence_words import LANGUAGES, Lang

_WORDS: Final[dict[str, tuple[str, str, str]]] = {
    "title": ("Дауларды қарау үстелі", "Стол споров", "Disputes desk"),
    "skip": ("Негізгі мазмұнға өту", "К основному содержанию", "Skip to the main content"),
    "language": ("Тіл", "Язык", "Language"),
    "intro": (
        (
            "Субъектінің шағымына немесе уәкілетті органның хатына жауап беру үшін: белгілі бір сәтте субъект нені "
            "қабылдағанын, оны леджер қашан білгенін көріңіз және сотқа дәлелдер бумасын жүктеп алыңыз."
        ),
        (
            "Для ответа на претензию субъекта или письмо уполномоченного органа: что субъект принял в данный "
            "момент, когда это стало известно реестру, и пакет доказательств для суда."
        ),
        (
            "For answering a subject's claim or a regulator's letter: what a subject had accepted at a moment, "
            "when the ledger came to know it, and the evidence bundle a court can check."
        ),
    ),
    "sign_in": ("Кіру", "Вход", "Sign in"),
    "token": ("Қол жеткізу токені", "Токен доступа", "Access token"),
    "token_hint": (
        "«evidence» рұқсаты бар токен. Ол тек HttpOnly cookie-де сақталады, бетте көрсетілмейді.",
        "Токен с правом «evidence». Он хранится только в HttpOnly-cookie и не показывается на странице.",
        "A token with the evidence scope. It is kept in an HttpOnly cookie only and never shown on the page.",
    ),
    "sign_out": ("Шығу", "Выйти", "Sign out"),
    "signed_in": ("Кірген:", "Вы вошли как", "Signed in as"),
    "look_up": ("Іздеу", "Запрос", "Look up"),
    "subject": ("Субъект (бүркеншік идентификатор)", "Субъект (псевдоним)", "Subject (pseudonymous id)"),
    "at": ("Сәт", "Момент", "Moment"),
    "known": ("Леджер білген сәт", "Как было известно реестру на", "As known at"),
    "known_hint": ("Бос болса: қазір белгілі күйі.", "Пусто: как известно сейчас.", "Empty: as known now."),
    "zone_hint": ("Уақыт белдеуі: {zone}.", "Часовой пояс: {zone}.", "Time zone: {zone}."),
    "purpose": ("Іздеудің мақсаты", "Цель запроса", "Purpose of this look-up"),
    "purpose_hint": (
        "Қол жеткізу журналына жазылады, мысалы: «CL-2026-021 шағымына жауап».",
        "Записывается в журнал доступа, например: «ответ на претензию CL-2026-021».",
        "Kept in the access log, e.g. \u201canswering claim CL-2026-021\u201d.",
    ),
    "answer": ("Жауап", "Ответ", "Answer"),
    "answer_for": (
        "{subject}, {at}; леджер білген күйі: {known}",
        "{subject}, {at}; как известно на {known}",
        "{subject} at {at}, as known at {known}",
    ),
    "now": ("қазір", "сейчас", "now"),
    "again": (
        "Басқа сәттегі білім бойынша қайта қарау",
        "Посмотреть, как было известно в другой момент",
        "Look again, as known at another moment",
    ),
    "again_hint": (
        "Әр батырма — субъект жазбасы өзгерген сәт.",
        "Каждая кнопка — момент, когда запись субъекта менялась.",
        "Each button is a moment the subject's record changed.",
    ),
    "show": ("Көрсету", "Показать", "Show"),
    "versions": ("Саясат редакциялары", "Редакции политики", "Policy versions"),
    "version": ("Редакция", "Редакция", "Version"),
    "effective": ("Күшіне енген", "Действует с", "In effect from"),
    "in_effect_at_t": ("T сәтінде күшінде", "Действовала в T", "In effect at T"),
    "timeline": ("Хронология", "Хронология", "Timeline"),
    "number": ("№", "№", "No."),
    "event": ("Оқиға", "Событие", "Event"),
    "occurred": ("Болған", "Когда", "Occurred"),
    "recorded": ("Тіркелген", "Записано", "Recorded"),
    "details": ("Мәліметтер", "Подробности", "Details"),
    "recorded_after": ("T-дан кейін тіркелген", "записано после T", "recorded after T"),
    "after_t": ("T-дан кейін болған", "после T", "after T"),
    "struck": ("сызылған", "вычеркнуто", "struck out"),
    "nothing": ("Жоқ.", "Нет.", "None."),
    "blocks": ("Бұғаттаулар", "Блокировки", "Blocks"),
    "blocked": (
        "T сәтінде деректер бұғатталған.",
        "В момент T данные были заблокированы.",
        "At T the data were blocked.",
    ),
    "not_blocked": (
        "T сәтінде деректер бұғатталмаған.",
        "В момент T данные не были заблокированы.",
        "At T the data were not blocked.",
    ),
    "disclosures": ("Деректерді беру", "Передачи данных", "Disclosures"),
    "recipient": ("Алушы", "Получатель", "Recipient"),
    "ground": ("Негіз", "Основание", "Ground"),
    "deadlines": ("Мерзімдер (ҚР жұмыс күндері)", "Сроки (рабочие дни РК)", "Deadlines (Kazakh working days)"),
    "obligation": ("Міндет", "Обязанность", "Obligation"),
    "triggered": ("Басталған", "Начат", "Started"),
    "due": ("Мерзімі", "Срок", "Due"),
    "standing": ("T сәтіндегі жағдайы", "Состояние на T", "Standing at T"),
    "evidence": ("Дәлелдер", "Доказательства", "Evidence"),
    "evidence_hint": (
        "Бума T сәтіне, қазір белгілі күйі бойынша жасалады және қол қойылған журналмен дәлелденеді.",
        "Пакет собирается на момент T, как известно сейчас, и доказывается подписанным журналом.",
        "The bundle is made for T, as known now, and proven against the signed log.",
    ),
    "download_json": ("Буманы жүктеу (JSON)", "Скачать пакет (JSON)", "Download the bundle (JSON)"),
    "download_html": ("Басып шығаруға арналған бет (HTML)", "Страница для печати (HTML)", "Printable page (HTML)"),
    "download_pdf": ("Басып шығаруға арналған бет (PDF)", "Страница для печати (PDF)", "Printable page (PDF)"),
    "verify": ("Буманың тексерілуін көрсету", "Проверить пакет", "Show whether the bundle verifies"),
    "verified": ("Бума тексерілді", "Пакет проверен", "The bundle verifies"),
    "not_verified": ("Бума тексерілмеді", "Пакет не прошёл проверку", "The bundle does not verify"),
    "error": ("Қате", "Ошибка", "Something is wrong"),
    "bad_token": (
        "Токен белгісіз немесе кері қайтарылған.",
        "Токен неизвестен или отозван.",
        "The token is unknown or revoked.",
    ),
    "no_scope": (
        "Бұл токенде «evidence» рұқсаты жоқ.",
        "У этого токена нет права «evidence».",
        "This token lacks the evidence scope.",
    ),
    "csrf": (
        "Форма ескірген немесе басқа сайттан жіберілген. Бетті жаңартып, қайталаңыз.",
        "Форма устарела или отправлена с другого сайта. Обновите страницу и повторите.",
        "The form is stale or came from another site. Reload the page and try again.",
    ),
    "bad_subject": (
        "Субъект идентификаторы: 1–200 таңба, «/» және басқару таңбаларынсыз.",
        "Идентификатор субъекта: 1–200 символов, без «/» и управляющих символов.",
        "A subject id is 1-200 characters, with no \u201c/\u201d and no control characters.",
    ),
    "unknown_subject": (
        "Леджерде мұндай субъект жоқ.",
        "В реестре нет такого субъекта.",
        "The ledger has no such subject.",
    ),
    "bad_time": (
        "Күн мен уақытты таңдаңыз (мысалы 2026-02-01 12:00).",
        "Выберите дату и время (например 2026-02-01 12:00).",
        "Choose a date and time (for example 2026-02-01 12:00).",
    ),
    "no_purpose": (
        "Іздеудің мақсатын жазыңыз (1–200 таңба).",
        "Укажите цель запроса (1–200 символов).",
        "Say why you look this subject up (1-200 characters).",
    ),
    "no_pdf": (
        "Бұл серверде PDF жасайтын браузер жоқ: HTML бетті ашып, «Басып шығару → PDF ретінде сақтау» таңдаңыз.",
        "На этом сервере нет браузера для PDF: откройте HTML-страницу и выберите «Печать → Сохранить как PDF».",
        "This server has no browser to print PDF with: open the HTML page and choose Print, then Save as PDF.",
    ),
    "no_key": (
        "Сервер леджердің қол қою кілтінсіз іске қосылған.",
        "Сервер запущен без ключа подписи реестра.",
        "This server was started without the ledger's signing key.",
    ),
}


def words(lang: Lang) -> dict[str, str]:
    """Every word of the desk in one language, for a template."""
    index = LANGUAGES.index(lang)
    return {key: texts[index] for key, texts in _WORDS.items()}
