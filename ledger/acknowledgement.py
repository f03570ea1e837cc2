"""Idempotent writes: the first answer to a caller's idempotency key, recorded with the fact.

The acknowledgement is saved in the same transaction as the fact it acknowledges, under an id
derived from the caller and the key. A retry therefore either finds it (and gets the first
answer back) or collides with it in the event store: a fact can never be recorded twice.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic


def acknowledgement_key(caller: str, key: str) -> UUID:
    """The aggregate id of one caller's idempotency key."""
    return _acknowledgement_key(caller, key)


@lru_cache(maxsize=4096)
def _acknowledgement_key(caller: str, key: str) -> UUID:
    """Kept: a write (or a batch's) asks for its key's id several times; JSON and `uuid5` cost each time."""
    # JSON keeps the two apart: caller "a:b" with key "c" is not caller "a" with key "b:c". Written
    # out as `json.dumps([caller, key])` writes it (the ids of stored keys depend on these exact bytes).
    return uuid5(NAMESPACE_URL, f"consent-ledger:idempotency:[{_json_str(caller)}, {_json_str(key)}]")


class Acknowledgement(Aggregate):
    """The answer given to one idempotency key."""

    class Given(Aggregate.Created):
        """The ledger answered a request carrying this idempotency key."""

        caller: str
        idempotency_key: str
        request_sha256: str
        fact_type: str
        fact_id: UUID
        fact_version: int
        fact_recorded_at: datetime

    def __init__(  # noqa: PLR0917  (the Given event's fields, in order, as the library passes them)
        self,
        caller: str,
        idempotency_key: str,
        request_sha256: str,
        fact_type: str,
        fact_id: UUID,
        fact_version: int,
        fact_recorded_at: datetime,
    ) -> None:
        """Keep the answer."""
        self.caller = caller
        self.idempotency_key = idempotency_key
        self.request_sha256 = request_sha256
        self.fact_type = fact_type
        self.fact_id = fact_id
        self.fact_version = fact_version
        self.fact_recorded_at = fact_recorded_at

    @classmethod
    def given(  # noqa: PLR0917  (the fields of one answer)
        cls,
        caller: str,
        idempotency_key: str,
        request_sha256: str,
        fact_type: str,
        fact_id: UUID,
        fact_version: int,
        fact_recorded_at: datetime,
    ) -> Acknowledgement.Given:
        """Record the answer to a keyed request: the event alone, as `_create` would make it.

        The aggregate itself is never used after it is saved (a retry reads it back), and making one
        through `_create` cost as much as storing the event; the stored bytes are the same.
        """
        given: Any = cls.Given  # mypy reads the library's event dataclasses as having no fields of their own
        return cast(
            "Acknowledgement.Given",
            given(
                originator_id=acknowledgement_key(caller, idempotency_key),
                originator_version=1,
                timestamp=fact_recorded_at,
                originator_topic=_TOPIC,
                caller=caller,
                idempotency_key=idempotency_key,
                request_sha256=request_sha256,
                fact_type=fact_type,
                fact_id=fact_id,
                fact_version=fact_version,
                fact_recorded_at=fact_recorded_at,
            ),
        )


_TOPIC = get_topic(Acknowledgement)
