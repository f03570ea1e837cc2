"""A small, realistic year of one online shop's personal-data facts, so every query has something to answer.

The operator is a made-up Almaty shop, Dala Market, with a short privacy policy of its own in
Kazakh, Russian and English. Everything goes through the ledger's commands, so the demo obeys
the same rules as any client; every command carries an idempotency key, so running the demo
again records nothing new. Subject ids are pseudonyms, as the ledger expects; the few personal
values (evidence, a representative, a claimant) are sealed with their subject's key.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ledger.application import Receipt, Request, text_sha256
from ledger.breach import AuthorityNotice, BreachFinding, BreachNotice
from ledger.claim import ClaimAnswer, ClaimFiling, CourtCase
from ledger.policy import PolicyVersion
from ledger.subject_facts import (
    Acceptance,
    Block,
    BlockLift,
    Correction,
    Destruction,
    Disclosure,
    Permission,
    Withdrawal,
    WithdrawalRefusal,
)
from ledger.terms import (
    Actor,
    BlockGround,
    BlockOutcome,
    BlockRequester,
    Channel,
    ClaimOutcome,
    ConsentMethod,
    DataCategory,
    DestructionGround,
    DisclosureGround,
    Language,
    PolicyId,
    Purpose,
    RecipientCategory,
    SubjectId,
)

if TYPE_CHECKING:
    from ledger.application import ConsentLedger

ALMATY = timezone(timedelta(hours=5))
"""Kazakhstan's single time zone since 1 March 2024."""

POLICY = PolicyId("dala-market-privacy")
OPERATOR, OPERATOR_BIN = "Dala Market LLP", "210540012345"

TEXTS: dict[str, dict[Language, str]] = {
    "1": {
        Language.KK: (
            "Dala Market құпиялылық саясаты, 1-редакция. Біз сіздің атыңызды, телефон нөміріңізді және "
            "жеткізу мекенжайыңызды тапсырыстарыңызды қабылдау және жеткізу, сондай-ақ сұрақтарыңызға жауап "
            "беру үшін пайдаланамыз. Сіздің келісіміңізбен сізге сатып алушының есептік жазбасын ашамыз. "
            "Деректеріңізді тек тапсырысты жеткізу үшін курьерлерге және поштаға, сондай-ақ мемлекеттік "
            "органдарға олардың заңды сұрауы бойынша ғана береміз. Келісіміңізді кез келген уақытта "
            "privacy@dala-market.kz мекенжайына жазып, кері қайтарып ала аласыз."
        ),
        Language.RU: (
            "Политика конфиденциальности Dala Market, редакция 1. Мы используем ваше имя, номер телефона и "
            "адрес доставки, чтобы принимать и доставлять ваши заказы и отвечать на ваши вопросы. С вашего "
            "согласия мы открываем вам учётную запись покупателя. Мы передаём ваши данные только курьерам и "
            "почте для доставки заказа, а также государственным органам по их законному запросу. Вы можете "
            "отозвать согласие в любое время, написав на privacy@dala-market.kz."
        ),
        Language.EN: (
            "Dala Market privacy policy, version 1. We use your name, phone number and delivery address to "
            "take and deliver your orders and to answer your questions. With your consent we open a purchase "
            "account for you. We pass your data only to couriers and the post to deliver an order, and to "
            "state bodies at their lawful request. You may withdraw your consent at any time by writing to "
            "privacy@dala-market.kz."
        ),
    },
    "2": {
        Language.KK: (
            "Dala Market құпиялылық саясаты, 2-редакция. Біз сіздің атыңызды, телефон нөміріңізді және "
            "жеткізу мекенжайыңызды тапсырыстарыңызды қабылдау және жеткізу, сондай-ақ сұрақтарыңызға жауап "
            "беру үшін пайдаланамыз. Сіздің келісіміңізбен сізге сатып алушының есептік жазбасын ашамыз. "
            "Деректеріңізді тек тапсырысты жеткізу үшін курьерлерге, поштаға және байланыс операторларына "
            "(жеткізу туралы SMS үшін), сондай-ақ мемлекеттік органдарға олардың заңды сұрауы бойынша ғана "
            "береміз. Келісіміңізді кез келген уақытта privacy@dala-market.kz мекенжайына жазып, кері "
            "қайтарып ала аласыз. Бұл редакция 2026 жылғы 15 маусымнан бастап күшіне енеді."
        ),
        Language.RU: (
            "Политика конфиденциальности Dala Market, редакция 2. Мы используем ваше имя, номер телефона и "
            "адрес доставки, чтобы принимать и доставлять ваши заказы и отвечать на ваши вопросы. С вашего "
            "согласия мы открываем вам учётную запись покупателя. Мы передаём ваши данные только курьерам, "
            "почте и операторам связи (для SMS о доставке) для доставки заказа, а также государственным "
            "органам по их законному запросу. Вы можете отозвать согласие в любое время, написав на "
            "privacy@dala-market.kz. Эта редакция вступает в силу 15 июня 2026 года."
        ),
        Language.EN: (
            "Dala Market privacy policy, version 2. We use your name, phone number and delivery address to "
            "take and deliver your orders and to answer your questions. With your consent we open a purchase "
            "account for you. We pass your data only to couriers, the post and mobile operators (for delivery "
            "text messages) to deliver an order, and to state bodies at their lawful request. You may withdraw "
            "your consent at any time by writing to privacy@dala-market.kz. This version takes effect on "
            "15 June 2026."
        ),
    },
}
"""The sample policy's exact texts; the ledger keeps only their SHA-256 (clause 9.1)."""

ORDERS, FEEDBACK, ACCOUNT, SUPPORT = Purpose("4.1.1"), Purpose("4.1.3"), Purpose("4.1.6"), Purpose("4.1.8")
STATE_REQUEST = Purpose("5.2")
NAME, PHONE, ADDRESS = DataCategory("name"), DataCategory("phone"), DataCategory("address")
CONTACT = frozenset({NAME, PHONE, ADDRESS})
COURIER, POST, MOBILE = "Tez Courier LLP", "Kazpost JSC", "Kcell JSC"

OFFICER = "demo:privacy-officer"
ORDERS_SERVICE = "demo:orders-service"
SUPPORT_DESK = "demo:support-desk"
LEGAL = "demo:legal-team"
SECURITY = "demo:security-team"


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Name a moment of 2026, Almaty time."""
    return datetime(2026, month, day, hour, minute, tzinfo=ALMATY)


def _as(caller: str, key: str) -> Request:
    return Request(caller, idempotency_key=f"demo-2026:{key}")


def record_demo_history(ledger: ConsentLedger) -> list[Receipt]:
    """Record the whole demo history; on a second run every receipt comes back as a replay."""
    return [
        *_policy(ledger),
        *_registered_customer(ledger),
        *_minor_through_a_parent(ledger),
        *_withdrawal_while_an_order_travels(ledger),
        *_written_permission_and_state_request(ledger),
        *_account_destroyed_on_request(ledger),
        *_customer_who_went_to_court(ledger),
        *_breach(ledger),
    ]


def _policy(ledger: ConsentLedger) -> list[Receipt]:
    """Version 1 in January; version 2, adding mobile operators, posted on 1 June to take effect on 15 June."""
    categories = {
        "1": frozenset({RecipientCategory.COURIER, RecipientCategory.POSTAL, RecipientCategory.STATE_AUTHORITY}),
        "2": frozenset(
            {
                RecipientCategory.COURIER,
                RecipientCategory.POSTAL,
                RecipientCategory.TELECOM,
                RecipientCategory.STATE_AUTHORITY,
            }
        ),
    }
    posted = {"1": (at(1, 5, 10), None), "2": (at(6, 1, 11), at(6, 15, 0))}
    return [
        ledger.record(
            _as(OFFICER, f"policy-v{version}"),
            PolicyVersion(
                policy_id=POLICY,
                version=version,
                text_sha256={language: text_sha256(text) for language, text in TEXTS[version].items()},
                purposes=frozenset({ORDERS, FEEDBACK, ACCOUNT, SUPPORT}),
                optional_purposes=frozenset({ACCOUNT}),
                recipient_categories=categories[version],
                effective_from=posted[version][1],
                operator_name=OPERATOR,
                operator_bin=OPERATOR_BIN,
            ),
            posted[version][0],
        )
        for version in ("1", "2")
    ]


def _consent(
    ledger: ConsentLedger,
    key: str,
    subject: str,
    when: datetime,
    *,
    version: str,
    language: Language,
    method: ConsentMethod,
    channel: Channel,
    evidence: str | None,
    account: bool = False,
    third_parties: bool = True,
    representative: str | None = None,
) -> Receipt:
    return ledger.record(
        _as(ORDERS_SERVICE, key),
        Acceptance(
            subject_id=SubjectId(subject),
            policy_id=POLICY,
            policy_version=version,
            language=language,
            text_sha256=text_sha256(TEXTS[version][language]),
            method=method,
            channel=channel,
            optional_purposes=frozenset({ACCOUNT}) if account else frozenset(),
            data_categories=CONTACT,
            third_parties=third_parties,
            actor=Actor.LEGAL_REPRESENTATIVE if representative else Actor.SUBJECT,
            representative=representative,
            evidence=evidence,
        ),
        when,
    )


def _deliver(
    ledger: ConsentLedger,
    key: str,
    subject: str,
    when: datetime,
    *,
    order: str,
    to: tuple[str, RecipientCategory] = (COURIER, RecipientCategory.COURIER),
    data: frozenset[DataCategory] = CONTACT,
) -> Receipt:
    recipient, category = to
    return ledger.record(
        _as(ORDERS_SERVICE, key),
        Disclosure(
            subject_id=SubjectId(subject),
            recipient=recipient,
            recipient_category=category,
            purpose=ORDERS,
            data_categories=data,
            ground=DisclosureGround.ORDER_FULFILMENT,
            reference=order,
        ),
        when,
    )


def _registered_customer(ledger: ConsentLedger) -> list[Receipt]:
    """Record cust-1001: registers in the app opting into a purchase account (4.1.6), later accepts version 2."""
    s = "cust-1001"
    return [
        _consent(
            ledger,
            "1001-consent-v1",
            s,
            at(1, 12, 19, 42),
            version="1",
            language=Language.KK,
            method=ConsentMethod.REGISTRATION,
            channel=Channel.APP,
            account=True,
            evidence="ip=95.56.14.201; device=Android 14; app=3.2.0",
        ),
        _deliver(ledger, "1001-order-00417", s, at(2, 3, 14, 5), order="ORD-2026-00417"),
        _consent(
            ledger,
            "1001-consent-v2",
            s,
            at(6, 20, 20, 10),
            version="2",
            language=Language.KK,
            method=ConsentMethod.APP_USE,
            channel=Channel.APP,
            account=True,
            evidence="ip=95.56.14.201; device=Android 14; app=3.4.1",
        ),
        _deliver(
            ledger,
            "1001-order-01288-sms",
            s,
            at(7, 2, 9, 30),
            order="ORD-2026-01288",
            to=(MOBILE, RecipientCategory.TELECOM),
            data=frozenset({PHONE}),
        ),
        _deliver(ledger, "1001-order-01288", s, at(7, 2, 9, 31), order="ORD-2026-01288"),
    ]


def _minor_through_a_parent(ledger: ConsentLedger) -> list[Receipt]:
    """Record cust-1002, a minor: the father signs on paper, later has a wrong address blocked and corrected."""
    s = SubjectId("cust-1002")
    return [
        _consent(
            ledger,
            "1002-consent-v1",
            s,
            at(1, 20, 16),
            version="1",
            language=Language.RU,
            method=ConsentMethod.WRITTEN,
            channel=Channel.PAPER,
            evidence="paper form F-17 No. 0452, scan in the archive",
            representative="father, N. Seitkali; birth certificate No. 1234567",
        ),
        _deliver(ledger, "1002-order-00562", s, at(2, 10, 12), order="ORD-2026-00562"),
        ledger.record(
            _as(SUPPORT_DESK, "1002-block"),
            Block(
                subject_id=s,
                block_id="BLK-2026-003",
                requester=BlockRequester.LEGAL_REPRESENTATIVE,
                ground=BlockGround.INACCURATE_DATA,
                request="letter of 20.03.2026: the delivery address is wrong",
            ),
            at(3, 20, 17, 40),
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1002-correction"),
            Correction(subject_id=s, data_categories=frozenset({ADDRESS})),
            at(3, 24, 10, 15),
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1002-unblock"),
            BlockLift(subject_id=s, block_id="BLK-2026-003", outcome=BlockOutcome.DATA_CORRECTED),
            at(3, 24, 10, 30),
        ),
    ]


def _withdrawal_while_an_order_travels(ledger: ConsentLedger) -> list[Receipt]:
    """Record cust-1003: a withdrawal refused while a parcel travels (Art. 8(2)), accepted after delivery."""
    s = SubjectId("cust-1003")
    return [
        _consent(
            ledger,
            "1003-consent-v1",
            s,
            at(2, 14, 13, 20),
            version="1",
            language=Language.RU,
            method=ConsentMethod.ORDER_CHECKOUT,
            channel=Channel.SITE,
            evidence="ip=2.134.77.18; browser=Firefox 135",
        ),
        _deliver(
            ledger, "1003-order-00731", s, at(2, 15, 10), order="ORD-2026-00731", to=(POST, RecipientCategory.POSTAL)
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1003-withdrawal-refused"),
            WithdrawalRefusal(
                subject_id=s,
                policy_id=POLICY,
                open_obligation="order ORD-2026-00731, in transit with Kazpost",
                reason="the address is needed until the parcel is delivered; ask again after delivery",
            ),
            at(2, 18, 11),
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1003-withdrawal"),
            Withdrawal(
                subject_id=s,
                policy_id=POLICY,
                channel=Channel.EMAIL,
                evidence="e-mail of 05.03.2026 from the address on file",
            ),
            at(3, 5, 9),
        ),
    ]


def _written_permission_and_state_request(ledger: ConsentLedger) -> list[Receipt]:
    """Record cust-1004: a repair centre permitted in writing (clause 6.2.2), then a tax authority request (Art. 9)."""
    s = SubjectId("cust-1004")
    repairs = "Servis Plus LLP"
    return [
        _consent(
            ledger,
            "1004-consent-v1",
            s,
            at(3, 2, 18, 5),
            version="1",
            language=Language.EN,
            method=ConsentMethod.REGISTRATION,
            channel=Channel.APP,
            evidence="ip=178.89.2.40; device=iPhone 15; app=3.2.2",
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1004-permission"),
            Permission(
                subject_id=s,
                permission_id="WP-2026-031",
                recipient=repairs,
                recipient_category=RecipientCategory.OTHER,
                purpose=SUPPORT,
                document="written permission WP-2026-031, signed 07.04.2026",
                valid_until=at(7, 7, 0),
            ),
            at(4, 7, 11),
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1004-repair"),
            Disclosure(
                subject_id=s,
                recipient=repairs,
                recipient_category=RecipientCategory.OTHER,
                purpose=SUPPORT,
                data_categories=frozenset({NAME, PHONE}),
                ground=DisclosureGround.WRITTEN_PERMISSION,
                reference="WP-2026-031",
            ),
            at(4, 9, 15),
        ),
        ledger.record(
            _as(LEGAL, "1004-state-request"),
            Disclosure(
                subject_id=s,
                recipient="State Revenue Department of Almaty",
                recipient_category=RecipientCategory.STATE_AUTHORITY,
                purpose=STATE_REQUEST,
                data_categories=CONTACT,
                ground=DisclosureGround.STATE_REQUEST,
                reference="request No. 04-17/2291 of 11.05.2026",
            ),
            at(5, 12, 10, 30),
        ),
    ]


def _account_destroyed_on_request(ledger: ConsentLedger) -> list[Receipt]:
    """Record cust-1005: agreed by using the app (clause 2.1), stopped, and had the data destroyed on request.

    Nothing personal is recorded for this subject: once its key is destroyed nothing can be
    sealed for it again, and the demo must still run a second time.
    """
    s = SubjectId("cust-1005")
    return [
        _consent(
            ledger,
            "1005-consent-v1",
            s,
            at(3, 1, 21, 15),
            version="1",
            language=Language.KK,
            method=ConsentMethod.APP_USE,
            channel=Channel.APP,
            evidence=None,
            third_parties=False,
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1005-withdrawal"),
            Withdrawal(subject_id=s, policy_id=POLICY, channel=Channel.APP),
            at(9, 15, 9, 40),
        ),
        ledger.record(
            _as(SUPPORT_DESK, "1005-destruction"),
            Destruction(subject_id=s, ground=DestructionGround.SUBJECT_REQUEST),
            at(9, 16, 10),
        ),
    ]


def _customer_who_went_to_court(ledger: ConsentLedger) -> list[Receipt]:
    """Record cust-1006 under version 2, and two claims: cust-1001's answered in time, cust-1006's late, then court."""
    s = SubjectId("cust-1006")
    return [
        _consent(
            ledger,
            "1006-consent-v2",
            s,
            at(7, 10, 12),
            version="2",
            language=Language.EN,
            method=ConsentMethod.REGISTRATION,
            channel=Channel.SITE,
            evidence="ip=89.218.5.77; browser=Chrome 138",
        ),
        _deliver(ledger, "1006-order-01377", s, at(7, 11, 16, 20), order="ORD-2026-01377"),
        ledger.record(
            _as(LEGAL, "claim-014"),
            ClaimFiling(claim_ref="CL-2026-014", subject_id=SubjectId("cust-1001"), claimant="A. Nurlanovna"),
            at(8, 4, 10),
        ),
        ledger.record(
            _as(LEGAL, "claim-014-answer"),
            ClaimAnswer(claim_ref="CL-2026-014", outcome=ClaimOutcome.PARTLY_SATISFIED, channel=Channel.EMAIL),
            at(8, 27, 16),
        ),
        ledger.record(
            _as(LEGAL, "claim-021"),
            ClaimFiling(claim_ref="CL-2026-021", subject_id=s, claimant="D. Kassymov"),
            at(9, 1, 10),
        ),
        ledger.record(
            _as(LEGAL, "claim-021-answer"),
            ClaimAnswer(claim_ref="CL-2026-021", outcome=ClaimOutcome.REJECTED, channel=Channel.PAPER),
            at(10, 5, 12),
        ),
        ledger.record(
            _as(LEGAL, "claim-021-court"),
            CourtCase(claim_ref="CL-2026-021", court_case="No. 7527-26-00-2/4410, Medeu District Court of Almaty"),
            at(10, 26, 9),
        ),
    ]


def _breach(ledger: ConsentLedger) -> list[Receipt]:
    """Record a courier list e-mailed to a wrong address: the authority told next day, two of three customers too."""
    ref = "BR-2026-002"
    told = [("cust-1001", Channel.SMS, at(10, 8, 10)), ("cust-1003", Channel.EMAIL, at(10, 8, 10, 5))]
    return [
        ledger.record(
            _as(SECURITY, "breach-002"),
            BreachFinding(
                breach_ref=ref,
                data_categories=frozenset({NAME, PHONE}),
                subject_ids=frozenset({SubjectId("cust-1001"), SubjectId("cust-1003"), SubjectId("cust-1006")}),
            ),
            at(10, 6, 15, 30),
        ),
        ledger.record(
            _as(SECURITY, "breach-002-authority"),
            AuthorityNotice(breach_ref=ref, channel=Channel.OTHER, reference="e-otinish 3T-2026-118834"),
            at(10, 7, 11),
        ),
        *(
            ledger.record(
                _as(SECURITY, f"breach-002-{subject}"),
                BreachNotice(breach_ref=ref, subject_id=SubjectId(subject), channel=channel),
                when,
            )
            for subject, channel, when in told
        ),
    ]
