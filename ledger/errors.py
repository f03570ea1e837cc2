"""Refusals: each a typed error whose message tells a person what to do next.

The HTTP edge maps each class to one RFC 9457 problem type; the CLI prints the message.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every refusal; nothing was recorded when one is raised."""

    title = "The ledger refused the request"


class InvalidFact(LedgerError):
    """The fact is malformed (naive time, future time, empty list, ...)."""

    title = "The fact is not valid"


class PersonalDataInClear(InvalidFact):
    """A term kept in clear holds what looks like personal data (an e-mail, a phone, an IIN); it belongs sealed."""

    title = "Personal data in a term the ledger keeps in clear"


class NotFound(LedgerError):
    """The fact names something the ledger has never recorded."""

    title = "Not found"


class RuleBroken(LedgerError):
    """The fact is well formed but a rule of the policy or the law forbids it now."""

    title = "A rule of the policy forbids this"


class PolicyVersionConflict(RuleBroken):
    """Clause 9.1: a published version never changes; publishing it with another text is refused."""

    title = "This policy version was already published with another text"


class NoGroundForDisclosure(RuleBroken):
    """Clauses 5.2 and 6.2.2: a disclosure needs a ground that holds at its time."""

    title = "No ground for this disclosure"


class SubjectBlocked(RuleBroken):
    """Clause 6.2.4; Art. 1(3): nothing is disclosed or destroyed while the data are blocked."""

    title = "The subject's data are blocked"


class SubjectDestroyed(RuleBroken):
    """Art. 1(6): the subject's data were destroyed; nothing personal can be recorded or read."""

    title = "The subject's data were destroyed"


class NothingToAct(RuleBroken):
    """A withdrawal, unblock or answer needs something standing to act on."""

    title = "There is nothing to act on"


class IdempotencyKeyReused(LedgerError):
    """An idempotency key came back with a different request; the first request stands."""

    title = "This idempotency key was used for a different request"


class ConcurrentWriteConflict(LedgerError):
    """Other writers kept changing the same record; the request may be retried as it is."""

    title = "Too many concurrent writes to the same record"


class VersionMismatch(LedgerError):
    """The caller expected another version of the record (optimistic concurrency)."""

    title = "The record has changed since you read it"


class OutsideVersionTerms(RuleBroken):
    """Art. 8(4): a consent names data categories, third parties or cross-border transfer its version does not allow."""

    title = "The consent names more than its policy version covers"


class OutsideConsentTerms(NoGroundForDisclosure):
    """Art. 8(4): a disclosure on a consent's ground goes beyond the data categories or transfers that consent named."""

    title = "The disclosure goes beyond what the consent named"


class StorageUnavailable(LedgerError):
    """The database did not answer in time (down, unreachable, or busy past the wait allowed); retry later."""

    title = "The database is unavailable"


class StorageFull(LedgerError):
    """The database has no room left to record anything (its disk or quota is full); retry once space is freed."""

    title = "The ledger's storage is full"
