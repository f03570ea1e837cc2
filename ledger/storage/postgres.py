"""The PostgreSQL datastore and recorders of eventsourcing, with every wait bounded and table creation serialised.

`Database.from_url` names `BoundedPostgresFactory` as the `PERSISTENCE_MODULE`, so the ledger's
recorder and the view's both come from it (the view's class mixes `SerialisedCreation` in itself).
"""

from __future__ import annotations

import contextlib
import math
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing import persistence as es
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from psycopg.errors import DiskFull, LockNotAvailable, QueryCanceled
from psycopg_pool import PoolTimeout

from ledger.errors import StorageFull, StorageUnavailable
from ledger.storage.seam import SCHEMA_LOCK, network_bounds

if TYPE_CHECKING:
    from collections.abc import Iterator

    from eventsourcing.utils import Environment, EnvType


IMPATIENT = 0.001
"""The pool's timeout while the server does not answer: one ready is taken, none awaited (0 would take none)."""


class BoundedPostgresDatastore(PostgresDatastore):
    """eventsourcing's datastore, except that a pool that found no connection in time is not asked again.

    The recorders retry a failed statement ten times; when the server is gone, each retry waited
    the pool's whole timeout for a connection, so a write in flight waited 14 to 28 s. A pool
    timeout is raised here as `StorageUnavailable`, which they do not retry: the wait is one
    timeout (plus the instant failures of connections the server closed); so is a lock not granted
    within the lock timeout, which each retry waited again, and a full disk. After a pool timeout, until the
    pool hands out a connection again, nobody waits: a batch of commands that each read would
    otherwise wait one timeout per command. The pool keeps reconnecting meanwhile.
    """

    patience: float
    """The pool's timeout while the server answers (set by `BoundedPostgresFactory`)."""

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection, or `StorageUnavailable` once the pool's timeout has passed without one."""
        try:
            with super().get_connection() as connection:
                self.pool.timeout = self.patience  # it answers again (a no-op but after an outage)
                yield connection
        except es.OperationalError as e:
            if isinstance(e.__cause__, PoolTimeout):
                self.pool.timeout = IMPATIENT  # fail at once until a connection is had again
                msg = f"the ledger's database did not answer (no connection within {self.patience:g} s)"
                raise StorageUnavailable(msg) from e
            if isinstance(e.__cause__, (LockNotAvailable, QueryCanceled)):  # waited its whole lock timeout already
                msg = f"the ledger's database is busy: {e.__cause__.diag.message_primary or e}"
                raise StorageUnavailable(msg) from e
            if isinstance(e.__cause__, DiskFull):  # it will not clear in the retries' two seconds
                msg = "the ledger's database server's disk is full"
                raise StorageFull(msg) from e
            raise


class SerialisedCreation:
    """A PostgreSQL recorder whose tables are created under `SCHEMA_LOCK`: processes starting at once take turns.

    eventsourcing creates its types and tables with `IF NOT EXISTS` in transactions of their own,
    which a concurrent twin can still make fail (a duplicate catalogue row, `tuple concurrently
    updated`). A session lock is held on a connection of its own while they run.
    """

    datastore: PostgresDatastore

    def create_table(self) -> None:
        """The recorder's own `create_table`, one process at a time."""
        with self.datastore.get_connection() as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                super().create_table()  # type: ignore[misc]
            finally:
                with contextlib.suppress(psycopg.Error):  # a connection that broke holds no lock any more
                    holder.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


class SerialisedApplicationRecorder(SerialisedCreation, PostgresApplicationRecorder):
    """The ledger's events table, created one process at a time."""


class BoundedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory (chosen by `PERSISTENCE_MODULE`), with bounded waits and serialised creation.

    Its datastore is built by eventsourcing from the environment; only its class (one method
    more) and its pool's connection arguments (libpq's timeouts and keepalives, before the pool
    opens) are ours.
    """

    application_recorder_class = SerialisedApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        """Build eventsourcing's datastore, then bound how long its connections may wait on the server."""
        super().__init__(env)
        datastore = self.datastore
        datastore.__class__ = BoundedPostgresDatastore  # same state, `get_connection` bounded
        datastore.patience = datastore.pool.timeout  # type: ignore[attr-defined]
        datastore.pool.reconnect_timeout = datastore.pool.timeout  # then it connects again on demand, at once
        kwargs = self.datastore.pool.kwargs
        if isinstance(kwargs, dict):
            kwargs.update(network_bounds(max(2, math.ceil(self.datastore.pool.timeout))))
