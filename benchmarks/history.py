"""A deterministic generator of realistic histories, as a JSON Lines file that `consent-ledger import` reads.

    write_history(path, events=1_000_000, seed=7)   # the file, streamed
    generate(ledger, 1_000_000)                      # the file, then imported into `ledger`

Four years (2022-2025) of an online shop's personal-data facts: a policy published in kk/ru/en in
four versions (v2 and v4 promise notice of each transfer, Art. 19), then one subject after another,
each with a whole life: registration and consent, orders handed to couriers and the post (notices
of them where a version promised them), acceptance of later versions, requests (access, correction,
withdrawal, destruction) each answered in time, withdrawals and refusals, blocks with their
verification and lift, written permissions, state requests, claims with answers and court cases,
some destroyed; every few thousand subjects a breach, the authority and each subject told.
Late-recorded facts (an order line that comes after later facts) and corrections of mistakes
(retractions) are in it too.

Every line is checked here against the ledger's rules as the subject's state then stood, so the
import of a generated file is refused nowhere and `consent-ledger replay` finds no violation
(every deadline is met). Each subject's life comes from its own seeded generator, so the file is
the same byte for byte for the same seed and size, and memory holds one subject at a time.

Counting: importing a line records one fact and, since every imported line carries an idempotency
key, one acknowledgement; a subject's first line also opens its record, the policy's first line
adopts it. `events` counts all of those, as `ledger.max_position()` will after the import.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ledger.terms import PolicyId, SubjectId

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ledger.application import ConsentLedger

POLICY = PolicyId("qlever-privacy")
ALMATY = timezone(timedelta(hours=5))
"""Times are written with the operator's offset, as its systems would export them."""
START = datetime(2022, 1, 1, tzinfo=UTC)
"""The first version takes effect; no subject's fact is earlier."""
END = datetime(2026, 1, 1, tzinfo=UTC)
"""No fact happened at or after this: import with a clock later than it."""

MASTER_KEY = hashlib.sha256(b"consent-ledger benchmark histories").digest()
"""Fixed, not secret: a generated history seals evidence, and a resumed or reused one must open with the same key."""

FORMAT_VERSION = 1
"""Part of a kept file's name: raise it whenever the generator writes other lines for the same seed and size."""

ACK_PER_LINE = 1
"""Every imported line carries an idempotency key, whose acknowledgement is one more event."""


@dataclass(frozen=True)
class Version:
    """One version of the generated policy."""

    number: str
    posted: datetime
    effective: datetime
    notifies: bool

    def text(self, language: str) -> str:
        """The version's text in `language` (short, but each version and language its own)."""
        return {
            "kk": f"Qlever құпиялылық саясаты, {self.number}-редакция.",
            "ru": f"Политика конфиденциальности Qlever, редакция {self.number}.",
            "en": f"Qlever privacy policy, version {self.number}.",
        }[language]


VERSIONS = (
    Version("1", datetime(2021, 12, 1, tzinfo=UTC), START, notifies=False),
    Version("2", datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC), notifies=True),
    Version("3", datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC), notifies=False),
    Version("4", datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC), notifies=True),
)
PURPOSES = ("4.1.1", "4.1.2", "4.1.3", "4.1.6")
OPTIONAL = "4.1.6"
RECIPIENTS = (("CDEK", "courier"), ("Kazpost", "postal"), ("Beeline", "telecom"), ("Glovo", "courier"))
LANGUAGES = ("ru", "ru", "ru", "kk", "kk", "en")


@dataclass(frozen=True)
class Mix:
    """How often the rarer things happen; the defaults are a shop's, tests raise them to see each one."""

    claims: float = 0.02
    """Share of subjects who send a pre-trial claim."""
    destructions: float = 0.01
    """Share of subjects whose data are destroyed on their request (the key deletion is costly: keep it rare)."""
    breach_every: int = 1_000
    """One breach per this many subjects, touching some of the subjects just written."""


MIX = Mix()


def subject_name(n: int) -> SubjectId:
    """The pseudonymous id of generated subject `n` (0, 1, 2, ...): `s-000000042`."""
    return SubjectId(f"s-{n:09d}")


def _at(moment: datetime) -> str:
    return moment.astimezone(ALMATY).replace(microsecond=0).isoformat()


def version_at(moment: datetime) -> Version:
    """The version in effect at `moment` (clause 9.2)."""
    return max((v for v in VERSIONS if v.effective <= moment), key=lambda v: v.effective)


def text_digest(version: Version, language: str) -> str:
    """SHA-256 of a version's text, as a consent line shows it."""
    from ledger.application import text_sha256  # noqa: PLC0415  (the ledger's own definition of the digest)

    return text_sha256(version.text(language))


def policy_lines() -> list[dict[str, Any]]:
    """Publishing the four versions, each with its three texts."""
    lines = []
    for v in VERSIONS:
        body: dict[str, Any] = {
            "version": v.number,
            "texts": {lang: v.text(lang) for lang in ("kk", "ru", "en")},
            "purposes": list(PURPOSES),
            "optional_purposes": [OPTIONAL],
            "recipient_categories": ["courier", "postal", "telecom"],
            "effective_from": _at(v.effective),
            "notifies_transfers": v.notifies,
            "occurred_at": _at(v.posted),
        }
        if v.number == "1":
            body |= {"operator_name": "Qlever LLP", "operator_bin": "210540012345"}
        lines.append(
            {"op": "publish_policy_version", "recorded_by": "privacy-office", "policy_id": POLICY, "body": body}
        )
    return lines


@dataclass
class _Life:
    """One subject's record as the rules see it, while its life is being written."""

    n: int
    rng: random.Random
    lines: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    """The record's version: 1 once opened, +1 per fact (a fact's entry number is the version after it)."""
    accepted: Version | None = None
    """The version of the consent standing now, or None (never given, or wholly withdrawn)."""
    optional: bool = False
    """Whether the standing consent includes the opt-in purpose 4.1.6."""
    held: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """Lines written later than they happened (late-recorded facts): (lines to wait, line)."""
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    latest: datetime = START
    """The latest moment any fact of the record happened: a destruction cannot be dated before it."""

    @property
    def subject(self) -> SubjectId:
        return subject_name(self.n)

    def emit(self, op: str, by: str, at: datetime, body: dict[str, Any], **path: Any) -> int:
        """Write a fact of this subject now; returns its entry number."""
        body["occurred_at"] = _at(at)
        self.latest = max(self.latest, at)
        self.lines.append({"op": op, "recorded_by": by, "subject_id": self.subject, **path, "body": body})
        self.version += 1
        number = self.version
        self._release()
        return number

    def _release(self) -> None:
        """Late lines whose wait is over follow the line just written (their entry numbers come now)."""
        if not self.held:
            return
        still = []
        for wait, line in self.held:
            if wait <= 1:
                self.lines.append(line)
                self.version += 1
                if line["body"].pop("_notice", False):
                    self._notice(self.version, datetime.fromisoformat(line["body"]["occurred_at"]))
            else:
                still.append((wait - 1, line))
        self.held = still

    def flush(self) -> None:
        """Write every late line now: before a destruction, or at the end of the life."""
        for _, line in self.held:
            self.lines.append(line)
            self.version += 1
            if line["body"].pop("_notice", False):
                self._notice(self.version, datetime.fromisoformat(line["body"]["occurred_at"]))
        self.held = []

    def _notice(self, number: int, at: datetime) -> None:
        """Art. 19: tell the subject of disclosure `number`, within a day or two (10 working days allowed)."""
        told = at + timedelta(hours=self.rng.randrange(2, 40))
        body = {"channel": self.rng.choice(("sms", "email", "app")), "occurred_at": _at(told)}
        self.latest = max(self.latest, told)
        self.lines.append(
            {
                "op": "record_disclosure_notice",
                "recorded_by": "notifier",
                "subject_id": self.subject,
                "number": number,
                "body": body,
            }
        )
        self.version += 1

    def act(self, at: datetime, roll: float) -> datetime:
        """One thing that happens to a consenting customer, chosen by `roll`; the time it is over."""
        steps = (
            (0.80, self.order),
            (0.85, self.correction),
            (0.88, self.access),
            (0.91, self.block),
            (0.94, self.withdraw),
            (0.95, self.permission),
            (0.955, self.state_request),
        )
        for limit, step in steps:
            if roll < limit:
                return step(at)
        return at

    def act_without_consent(self, at: datetime, roll: float) -> datetime:
        """Without a standing consent nothing goes to couriers: the customer consents again, or asks."""
        if roll < 0.3:
            self.consent(at, "order_checkout")
        elif roll < 0.35:
            self.access(at)
        return at

    # What happens in a life.

    def consent(self, at: datetime, method: str) -> None:
        version = version_at(at)
        language = self.rng.choice(LANGUAGES)
        self.optional = self.rng.random() < 0.3
        body: dict[str, Any] = {
            "policy_id": POLICY,
            "policy_version": version.number,
            "language": language,
            "text_sha256": text_digest(version, language),
            "method": method,
            "channel": self.rng.choice(("app", "app", "site")),
            "optional_purposes": [OPTIONAL] if self.optional else [],
            "data_categories": ["address", "contact"],
            "third_parties": True,
        }
        if self.rng.random() < 0.5:
            body["evidence"] = f"ip=10.{self.n % 256}.{self.rng.randrange(256)}.{self.rng.randrange(256)} device=app"
        self.emit("grant_consent", "crm", at, body)
        self.accepted = version

    def order(self, at: datetime) -> datetime:
        recipient, category = self.rng.choice(RECIPIENTS)
        body: dict[str, Any] = {
            "recipient": recipient,
            "recipient_category": category,
            "purpose": "4.1.1",
            "data_categories": ["address", "contact"],
            "ground": "order_fulfilment",
            "reference": f"order-{self.n}-{next(self.counter)}",
        }
        owed = self.accepted is not None and self.accepted.notifies
        if self.rng.random() < 0.03:  # recorded late: written after the next few facts, as of when it happened
            body["occurred_at"] = _at(at)
            body["_notice"] = owed
            line = {"op": "record_disclosure", "recorded_by": "orders", "subject_id": self.subject, "body": body}
            self.held.append((self.rng.randrange(1, 4), line))
            return at
        number = self.emit("record_disclosure", "orders", at, body)
        if owed:
            self._notice(number, at)
        if self.rng.random() < 0.01:  # handed over by mistake: struck out the next day
            self.emit("retract_entry", "orders", at + timedelta(days=1), {"number": number, "reason": "wrong customer"})
        return at

    def request(self, kind: str, at: datetime) -> str:
        request_id = f"req-{self.n}-{next(self.counter)}"
        self.emit("receive_request", "privacy-office", at, {"request_id": request_id, "kind": kind, "channel": "email"})
        return request_id

    def answer(self, request_id: str, at: datetime, outcome: str, by_entry: int | None = None) -> None:
        body: dict[str, Any] = {"outcome": outcome}
        if by_entry is not None:
            body["by_entry"] = by_entry
        if outcome == "refused":
            body["reason"] = "an order is still being delivered (Art. 8(2))"
        self.emit("answer_request", "privacy-office", at, body, request_id=request_id)

    def correction(self, at: datetime) -> datetime:
        if self.rng.random() < 0.5:
            request_id = self.request("correction", at)
            number = self.emit("record_correction", "crm", at + timedelta(hours=3), {"data_categories": ["address"]})
            self.answer(request_id, at + timedelta(hours=4), "done", number)
            return at + timedelta(hours=4)
        self.emit("record_correction", "crm", at, {"data_categories": ["address"]})
        return at

    def access(self, at: datetime) -> datetime:
        request_id = self.request("access", at)
        self.answer(request_id, at + timedelta(hours=self.rng.randrange(1, 20)), "answered")
        return at

    def block(self, at: datetime) -> datetime:
        block_id = f"blk-{self.n}-{next(self.counter)}"
        body: dict[str, Any] = {"block_id": block_id, "requester": "subject", "ground": "inaccurate_data"}
        if self.rng.random() < 0.3:
            body["request_details"] = "the delivery address is wrong"
        self.emit("block_data", "privacy-office", at, body)
        checked = at + timedelta(days=self.rng.randrange(1, 5))
        violation = self.rng.random() < 0.4
        self.emit("complete_verification", "privacy-office", checked, {"violation_found": violation}, block_id=block_id)
        if violation:
            self.emit("record_correction", "crm", checked + timedelta(hours=1), {"data_categories": ["address"]})
        outcome = "data_corrected" if violation else "request_unfounded"
        lifted = checked + timedelta(hours=2)
        self.emit("lift_block", "privacy-office", lifted, {"outcome": outcome}, block_id=block_id)
        return lifted

    def withdraw(self, at: datetime) -> datetime:
        """Withdraw the opt-in purpose, or the whole consent (on a request, sometimes refused first)."""
        if self.optional and self.rng.random() < 0.5:
            self.emit("withdraw_consent", "crm", at, {"policy_id": POLICY, "purposes": [OPTIONAL], "channel": "app"})
            self.optional = False
            return at
        request_id = self.request("withdrawal", at)
        if self.rng.random() < 0.3:
            body = {"policy_id": POLICY, "open_obligation": f"order-{self.n}-open", "reason": "an order is in delivery"}
            number = self.emit("refuse_withdrawal", "privacy-office", at + timedelta(hours=2), body)
            self.answer(request_id, at + timedelta(hours=3), "done", number)
            return at + timedelta(hours=3)
        number = self.emit(
            "withdraw_consent", "crm", at + timedelta(hours=1), {"policy_id": POLICY, "channel": "email"}
        )
        self.accepted = None
        self.answer(request_id, at + timedelta(hours=2), "done", number)
        return at + timedelta(hours=2)

    def permission(self, at: datetime) -> datetime:
        permission_id = f"wp-{self.n}-{next(self.counter)}"
        body = {
            "permission_id": permission_id,
            "recipient": "Insurer LLP",
            "recipient_category": "other",
            "purpose": "4.1.3",
            "document": f"scan {self.n}, signed on paper",
            "valid_until": _at(at + timedelta(days=365)),
        }
        self.emit("grant_written_permission", "crm", at, body)
        disclosure = {
            "recipient": "Insurer LLP",
            "recipient_category": "other",
            "purpose": "4.1.3",
            "data_categories": ["contact"],
            "ground": "written_permission",
            "reference": permission_id,
        }
        number = self.emit("record_disclosure", "crm", at + timedelta(days=2), disclosure)
        if self.accepted is not None and self.accepted.notifies:
            self._notice(number, at + timedelta(days=2))
        return at + timedelta(days=2)

    def state_request(self, at: datetime) -> datetime:
        body = {
            "recipient": "Police department",
            "recipient_category": "state_authority",
            "purpose": "4.1.5",
            "data_categories": ["contact"],
            "ground": "state_request",
            "reference": f"request 12-{self.n}",
        }
        self.emit("record_disclosure", "legal", at, body)
        return at

    def destroy(self, at: datetime) -> None:
        self.flush()
        at = max(at, self.latest + timedelta(minutes=1))
        request_id = self.request("destruction", at)
        number = self.emit("destroy_data", "privacy-office", at + timedelta(hours=2), {"ground": "subject_request"})
        self.answer(request_id, at + timedelta(hours=3), "done", number)

    def claim(self, at: datetime) -> None:
        """A claim is its own record; its lines follow this subject's."""
        claim_ref = f"claim-{self.n}"
        received = {"claim_ref": claim_ref, "subject_id": self.subject, "claimant": f"Customer {self.n}"}
        self.lines.append({"op": "receive_claim", "recorded_by": "legal", "body": received | {"occurred_at": _at(at)}})
        answered = at + timedelta(days=self.rng.randrange(1, 20))
        outcome = self.rng.choice(("satisfied", "partly_satisfied", "rejected"))
        body = {"outcome": outcome, "channel": "email", "occurred_at": _at(answered)}
        self.lines.append({"op": "answer_claim", "recorded_by": "legal", "claim_ref": claim_ref, "body": body})
        if outcome == "rejected" and self.rng.random() < 0.3:
            court = {"court_case": f"2-{self.n}/2025", "occurred_at": _at(answered + timedelta(days=30))}
            self.lines.append(
                {"op": "take_claim_to_court", "recorded_by": "legal", "claim_ref": claim_ref, "body": court}
            )


LAST_START = datetime(2025, 10, 1, tzinfo=UTC)
"""The last moment a generated subject registers."""


def registered_at(n: int, seed: int) -> datetime:
    """When subject `n` registered: the first moment a question about them has an answer."""
    return _registration(random.Random(f"{seed}:{n}"))


def _registration(rng: random.Random) -> datetime:
    span = (LAST_START - START).total_seconds() - 86400 * 10
    return START + timedelta(days=10, seconds=rng.randrange(int(span)))


def subject_lines(n: int, seed: int, mix: Mix = MIX) -> list[dict[str, Any]]:
    """Subject `n`'s whole life, each fact allowed by the rules as the record then stood."""
    rng = random.Random(f"{seed}:{n}")
    at = _registration(rng)
    life = _Life(n, rng)
    life.consent(at, "registration")
    upcoming = [v for v in VERSIONS if v.effective > at]
    ending = rng.random() < mix.destructions
    claimed = rng.random() < mix.claims
    while True:
        at += timedelta(hours=rng.expovariate(1 / (24 * 40)) + 1)
        if upcoming and at >= upcoming[0].effective:  # a new version took effect: most accept it in the app
            version = upcoming.pop(0)
            if life.accepted is not None and rng.random() < 0.6:
                at = max(at, version.effective + timedelta(days=rng.randrange(0, 20)))
                life.consent(at, "app_use")
                continue
        if at >= END - timedelta(days=40):
            break
        roll = rng.random()
        at = life.act(at, roll) if life.accepted is not None else life.act_without_consent(at, roll)
        if claimed and rng.random() < 0.1:
            life.claim(at)
            claimed = False
        if ending and rng.random() < 0.2:
            life.destroy(at)
            return life.lines
    life.flush()
    return life.lines


def breach_lines(k: int, subjects: list[SubjectId], seed: int) -> list[dict[str, Any]]:
    """Breach `k` touching `subjects`: found, the authority told within hours, each subject within days."""
    rng = random.Random(f"{seed}:breach:{k}")
    found = START + timedelta(days=900 + rng.randrange(400), hours=rng.randrange(24))
    ref = f"inc-{k}"
    body = {
        "breach_ref": ref,
        "data_categories": ["contact"],
        "subject_ids": sorted(subjects),
        "occurred_at": _at(found),
    }
    lines: list[dict[str, Any]] = [{"op": "record_breach", "recorded_by": "security", "body": body}]
    told = {"channel": "email", "reference": f"outgoing {k}", "occurred_at": _at(found + timedelta(hours=5))}
    lines.append({"op": "record_authority_notice", "recorded_by": "security", "breach_ref": ref, "body": told})
    for s in sorted(subjects):
        at = found + timedelta(days=1, hours=rng.randrange(48))
        body = {"subject_id": s, "channel": "sms", "occurred_at": _at(at)}
        lines.append({"op": "record_subject_notice", "recorded_by": "security", "breach_ref": ref, "body": body})
    return lines


EVENTS_PER_LINE = 1 + ACK_PER_LINE
"""The fact and its acknowledgement; a subject's first line also opens its record, the policy's first adopts it."""


@dataclass(frozen=True)
class Written:
    """What a generated file holds."""

    path: Path
    lines: int
    events: int
    """Events its import records (`ledger.max_position()` after importing it into an empty ledger)."""
    subjects: int
    """Subjects `s-000000000` to `subject_name(subjects - 1)`."""


@dataclass
class _Tally:
    lines: int = 0
    events: int = 0
    subjects: int = 0


def iter_history(events: int, seed: int = 7, mix: Mix = MIX, tally: _Tally | None = None) -> Iterator[dict[str, Any]]:
    """Every line of the history, until about `events` events (whole lives only, so every deadline is met)."""
    tally = tally if tally is not None else _Tally()
    for k, line in enumerate(policy_lines()):
        tally.lines += 1
        tally.events += EVENTS_PER_LINE + (k == 0)
        yield line
    recent: list[SubjectId] = []
    for n in itertools.count():
        if tally.events >= events:
            return
        lines = subject_lines(n, seed, mix)
        tally.subjects += 1
        tally.lines += len(lines)
        tally.events += EVENTS_PER_LINE * len(lines) + 1  # the record opened by the subject's first line
        yield from lines
        recent = [*recent[-200:], subject_name(n)]
        if (n + 1) % mix.breach_every == 0:
            rng = random.Random(f"{seed}:touched:{n}")
            touched = rng.sample(recent, min(len(recent), rng.randrange(3, 12)))
            lines = breach_lines(n // mix.breach_every, touched, seed)
            tally.lines += len(lines)
            tally.events += EVENTS_PER_LINE * len(lines)
            yield from lines


def write_history(path: Path, events: int, seed: int = 7, mix: Mix = MIX) -> Written:
    """Write about `events` events' worth of history to `path`, streaming; never leaves a partial file there."""
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    tally = _Tally()
    with part.open("wb") as out:
        for line in iter_history(events, seed, mix, tally):
            out.write(orjson.dumps(line) + b"\n")
    part.replace(path)
    return Written(path, tally.lines, tally.events, tally.subjects)


def stored_events(ledger: ConsentLedger) -> int:
    """How many events the ledger stores (PostgreSQL's positions have gaps: the newest position is no count)."""
    storage = ledger.storage
    return int(storage.query(f"SELECT count(*) AS n FROM {storage.events_table}", ())[0]["n"])  # noqa: S608


@dataclass(frozen=True)
class Generated:
    """A history in a ledger: how many events it holds, and its subjects."""

    events: int
    subjects: int
    last_time: datetime
    """No generated fact happened after this."""


def history_file(events: int, seed: int = 7, workdir: Path = Path("var/histories")) -> Written:
    """The generated file for `events` and `seed`, written once and kept for the next run."""
    path = workdir / f"history-{events}-seed{seed}-v{FORMAT_VERSION}.jsonl"
    if path.exists():
        return _written_again(path, events, seed)
    return write_history(path, events, seed)


def _written_again(path: Path, events: int, seed: int) -> Written:
    """The tally of a file written earlier, recounted without writing it (the lives are generated again)."""
    tally = _Tally()
    for _ in iter_history(events, seed, MIX, tally):
        pass
    return Written(path, tally.lines, tally.events, tally.subjects)


def generate(
    ledger: ConsentLedger,
    total_events: int,
    *,
    seed: int = 7,
    batch: int = 500,
    workdir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Generated:
    """Fill `ledger` with about `total_events` events: write the history file, then `consent-ledger import` it.

    Resumable: run again after an interruption, the import skips what was done. The ledger needs
    a master key (consents carry sealed evidence) and a clock after `END`.
    """
    from cli.import_file import FileImport  # noqa: PLC0415  (the benchmark fills databases the way operators do)

    sqlite_file = ledger.env.get("SQLITE_DBNAME") if ledger.storage.local else None
    if workdir is None:  # beside a SQLite database; else under ./var/histories
        workdir = Path(sqlite_file).parent if sqlite_file else Path("var/histories")
    written = history_file(total_events, seed, workdir)
    job = FileImport(ledger, written.path, batch=batch)
    if progress is not None:
        job.progress = lambda _outcome, _offset: progress(ledger.max_position())
    job.run()
    return Generated(events=stored_events(ledger), subjects=written.subjects, last_time=END)


def question_probes(subjects: int, count: int, seed: int = 7, draw: int = 11) -> list[tuple[SubjectId, datetime]]:
    """`count` (subject, moment) pairs for the question benchmarks: existing subjects, moments in their lives."""
    rng = random.Random(draw)
    probes = []
    for _ in range(count):
        n = rng.randrange(subjects)
        born = registered_at(n, seed)
        probes.append((subject_name(n), born + (END - born) * rng.random()))
    return probes


def main() -> None:
    """`python -m benchmarks.history OUT.jsonl EVENTS [--seed S]`: write a history file to import."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("events", type=int)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    written = write_history(args.out, args.events, args.seed)
    events, subjects = f"{written.events:,} events once imported", f"{written.subjects:,} subjects"
    print(f"{written.path}: {written.lines:,} lines, {events}, {subjects}")


if __name__ == "__main__":
    main()
