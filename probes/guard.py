"""An idempotency guard: perform a side effect once per key, across retries, processes and hosts.

    from probes.guard import RedisStore, effect_once

    store = RedisStore("redis://127.0.0.1:6379/0")          # or PostgresStore(dsn)

    @effect_once("email.sent", key=lambda order_id: order_id, store=store)
    def send_receipt(order_id): ...

Each call claims ``(effect, key)`` in the store before the body runs:

* **claimed** — the body runs inside a ``side_effect.confirm`` span (``probes.confirm``: the
  span is an error when the body raises or ``verify`` answers falsy). On success the key is
  recorded as done and the confirmation ends ``ok``; on failure the claim is released, the
  exception propagates unchanged and a retry may try again.
* **already done** (by an earlier attempt or another job) — the body does not run, the call
  returns ``None`` and a ``side_effect.skip`` span says so (``side_effect.reason=
  already_done``). The auditor's ``probes`` profile credits the skipping run with the effect
  but never counts the skip as a second performance of it.
* **being done** by a concurrent attempt (a live lease) — the call waits until that attempt
  ends (at most ``wait`` seconds, by default the lease), then skips or claims.

A claim is a *lease*: it expires after ``lease`` seconds, so a process killed inside the body
(SIGKILL, OOM) leaves the key retryable once the lease has run out. Choose a lease longer than
the body takes: an attempt that outlives its lease can be overtaken by another.

**Fail closed.** When the store cannot be reached before the body, the effect does *not* run:
``GuardUnavailable`` is raised (let the job system retry). When a concurrent attempt still
holds the lease after ``wait``, ``EffectBusy`` is raised. After the body succeeded, a store
failure is logged (the effect happened; raising would make the job retry it) and the key stays
leased until the lease expires; on the caller's PostgreSQL connection it is raised instead (the
transaction cannot commit: the effect's own writes roll back with the key). Both exceptions
are subclasses of ``GuardError``.

The store is per call or a default set once with ``configure(store=...)``. ``RedisStore``
needs ``redis`` (the ``guard-redis`` extra), ``PostgresStore`` needs ``psycopg`` 3 (the
``guard-postgres`` extra); both are imported only when a store is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from probes import semconv
from probes._safety import guarded
from probes._tracer import get_tracer
from probes.effects import _clean, confirm
from probes.jobs import current_job

__all__ = [
    "EffectBusy",
    "GuardError",
    "GuardUnavailable",
    "PostgresStore",
    "RedisStore",
    "Store",
    "configure",
    "effect_once",
]

logger = logging.getLogger("probes")

F = TypeVar("F", bound=Callable[..., Any])

#: How long a done key is remembered by default: 30 days.
DEFAULT_TTL = 30 * 24 * 3600.0
#: How long a claim holds by default, in seconds.
DEFAULT_LEASE = 30.0
#: Seconds between two looks at a key a concurrent attempt holds.
POLL = 0.05


class GuardError(Exception):
    """The guard could not decide whether the effect may run: it did not run."""


class GuardUnavailable(GuardError):
    """The store could not be reached (or is not configured): the effect did not run."""


class EffectBusy(GuardError):
    """A concurrent attempt still holds the key after waiting: the effect did not run here."""


# ----------------------------------------------------------------------------- stores


class State(Enum):
    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class Claim:
    """What a store answered about one key: ours to perform, done, or leased by another."""

    state: State
    token: str = ""
    #: DONE: the job id that recorded the effect, when known.
    done_by: str = ""
    #: BUSY: seconds until the other attempt's lease runs out.
    expires_in: float = 0.0


class Store(Protocol):
    """Where done keys and leases live. Every method raises ``GuardUnavailable`` when the
    store cannot answer; ``connection`` is the caller's (only stores that support it)."""

    lease: float

    def scope(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        """The block a claim, the body and the record run in (a transaction, or nothing)."""
        ...

    def claim(
        self, effect: str, key: str, *, lease: float, job_id: str, connection: Any
    ) -> Claim: ...

    def complete(
        self, effect: str, key: str, claim: Claim, *, job_id: str, connection: Any
    ) -> None: ...

    def release(self, effect: str, key: str, claim: Claim, *, connection: Any) -> None: ...


def _token() -> str:
    return secrets.token_hex(8)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """Done keys and leases in Redis: ``SET key lease:<token> NX PX <lease>`` claims,
    ``SET key done:<job id> PX <ttl>`` records, a compare-and-delete releases.

    ``url_or_client`` is a ``redis://`` URL or a ``redis.Redis`` client. Keys are
    ``<prefix><effect>:<key>``. ``ttl=None`` keeps done keys forever.
    """

    _RELEASE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end "
        "return 0"
    )

    def __init__(
        self,
        url_or_client: Any,
        *,
        prefix: str = "probes:effect_once:",
        lease: float = DEFAULT_LEASE,
        ttl: float | None = DEFAULT_TTL,
        timeout: float = 5.0,
    ) -> None:
        self.prefix = prefix
        self.lease = float(lease)
        self.ttl = ttl
        self.timeout = timeout
        self._url: str | None = url_or_client if isinstance(url_or_client, str) else None
        self._client: Any = None if isinstance(url_or_client, str) else url_or_client
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisStore({self._url or self._client!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> Any:
        """The ``redis.Redis`` client (made from the URL on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import redis

                    self._client = redis.Redis.from_url(
                        self._url or "", socket_timeout=self.timeout,
                        socket_connect_timeout=self.timeout,
                    )  # fmt: skip
        return self._client

    def name(self, effect: str, key: str) -> str:
        """The Redis key that holds ``(effect, key)``."""
        return f"{self.prefix}{effect}:{key}"

    def scope(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        if connection is not None:
            raise TypeError("RedisStore takes no connection; PostgresStore does")
        return contextlib.nullcontext()

    def claim(self, effect: str, key: str, *, lease: float, job_id: str, connection: Any) -> Claim:
        name = self.name(effect, key)
        token = _token()
        try:
            while True:
                if self.client.set(name, f"lease:{token}", nx=True, px=max(1, round(lease * 1000))):
                    return Claim(State.CLAIMED, token=token)
                pipe = self.client.pipeline(transaction=True)
                value, pttl = pipe.get(name).pttl(name).execute()
                if value is None:
                    continue  # gone between the two commands (expired, released): claim again
                text = _text(value)
                if text.startswith("done"):
                    return Claim(State.DONE, done_by=text.partition(":")[2])
                return Claim(State.BUSY, expires_in=max(0.0, int(pttl) / 1000))
        except Exception as exc:
            raise GuardUnavailable(f"Redis could not claim {name!r}: {exc}") from exc

    def complete(
        self, effect: str, key: str, claim: Claim, *, job_id: str, connection: Any
    ) -> None:
        name = self.name(effect, key)
        px = None if self.ttl is None else max(1, round(self.ttl * 1000))
        try:
            self.client.set(name, f"done:{job_id}", px=px)
        except Exception as exc:
            raise GuardUnavailable(f"Redis could not record {name!r}: {exc}") from exc

    def release(self, effect: str, key: str, claim: Claim, *, connection: Any) -> None:
        name = self.name(effect, key)
        try:
            self.client.eval(self._RELEASE, 1, name, f"lease:{claim.token}")
        except Exception as exc:
            raise GuardUnavailable(f"Redis could not release {name!r}: {exc}") from exc


class PostgresStore:
    """Done keys and leases in a PostgreSQL table (``CREATE TABLE IF NOT EXISTS`` on first use):
    one row per ``(effect, key)``, its primary key, with ``state`` ``lease`` (and
    ``lease_until``) or ``done`` (and ``expires_at``, NULL with ``ttl=None``).

    Without a connection the store uses its own (autocommit, one per process, from ``dsn``).
    With ``effect_once(..., connection=conn)`` (a psycopg 3 ``Connection``; not an
    ``AsyncConnection``) the claim, the body
    and the record run in one transaction of ``conn``: the effect's own writes on ``conn``
    and the key commit together, or roll back together. A connection outside a transaction
    gets a transaction that commits when the block ends (before the confirmation is emitted);
    inside the caller's transaction the block is a savepoint, and the caller's commit decides.
    There the uncommitted row is the lease: a concurrent attempt waits for that transaction to
    end, and a killed process's transaction is rolled back by the server. Needs the default
    READ COMMITTED isolation.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        table: str = "probes_effect_once",
        lease: float = DEFAULT_LEASE,
        ttl: float | None = DEFAULT_TTL,
        create: bool = True,
        timeout: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.table = table
        self.lease = float(lease)
        self.ttl = ttl
        self.create = create
        self.timeout = timeout
        self._lock = threading.Lock()
        self._own: tuple[int, Any] | None = None  # (pid, connection): not shared across a fork
        self._ready = not create

    def __repr__(self) -> str:
        return f"PostgresStore(table={self.table!r})"

    # -- SQL

    def _sql(self, text: str) -> Any:
        from psycopg import sql

        return sql.SQL(text).format(t=sql.Identifier(*self.table.split(".")))

    def create_table_sql(self) -> Any:
        """The DDL the store runs on first use (run it yourself with ``create=False``)."""
        return self._sql(
            "CREATE TABLE IF NOT EXISTS {t} ("
            " effect text NOT NULL, key text NOT NULL,"
            " state text NOT NULL CHECK (state IN ('lease', 'done')),"
            " token text, lease_until timestamptz, job_id text NOT NULL DEFAULT '',"
            " done_at timestamptz, expires_at timestamptz,"
            " PRIMARY KEY (effect, key))"
        )

    # -- connections

    def _connection(self) -> Any:
        import os

        import psycopg

        if self.dsn is None:
            raise GuardUnavailable("PostgresStore without a dsn needs effect_once(connection=...)")
        pid = os.getpid()
        with self._lock:
            own = self._own
            if own is not None and own[0] == pid and not own[1].closed:
                return own[1]
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=int(self.timeout))
            self._own = (pid, conn)
            return conn

    def _drop_connection(self) -> None:
        with self._lock:
            own, self._own = self._own, None
        if own is not None:
            with contextlib.suppress(Exception):
                own[1].close()

    @contextlib.contextmanager
    def _on(self, connection: Any, what: str) -> Iterator[Any]:
        """The connection to run ``what`` on; any failure becomes ``GuardUnavailable``."""
        try:
            conn = connection if connection is not None else self._connection()
            self._ensure_table(conn, caller=connection is not None)
            yield conn
        except GuardError:
            raise
        except Exception as exc:
            if connection is None:
                self._drop_connection()
            raise GuardUnavailable(f"PostgreSQL could not {what}: {exc}") from exc

    def _ensure_table(self, conn: Any, *, caller: bool) -> None:
        """Create the table once, committed on the store's own connection. Without a dsn it
        can only be created in the caller's transaction, which may roll back: then it is
        looked up (and created if missing) every time."""
        if self._ready:
            return
        import psycopg

        if caller and self.dsn is not None:
            conn, caller = self._connection(), False
        if caller:
            found = conn.execute("SELECT to_regclass(%s)", (self._qualified(),)).fetchone()
            if found is not None and found[0] is not None:
                return
        # in the caller's transaction, a savepoint: a lost creation race must not abort it
        block = conn.transaction() if caller else contextlib.nullcontext()
        try:
            with block:
                conn.execute(self.create_table_sql())
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            pass  # created concurrently by another process
        if not caller:
            self._ready = True

    def _qualified(self) -> str:
        return ".".join('"' + part.replace('"', '""') + '"' for part in self.table.split("."))

    def scope(self, connection: Any) -> contextlib.AbstractContextManager[Any]:
        if connection is None:
            return contextlib.nullcontext()
        return connection.transaction()

    # -- the protocol

    def claim(self, effect: str, key: str, *, lease: float, job_id: str, connection: Any) -> Claim:
        token = _token()
        with self._on(connection, f"claim {effect}:{key}") as conn:
            while True:
                row = conn.execute(
                    self._sql(
                        "INSERT INTO {t} AS t (effect, key, state, token, lease_until, job_id)"
                        " VALUES (%(effect)s, %(key)s, 'lease', %(token)s,"
                        " clock_timestamp() + %(lease)s * interval '1 second', %(job)s)"
                        " ON CONFLICT (effect, key) DO UPDATE SET state = 'lease',"
                        " token = EXCLUDED.token, lease_until = EXCLUDED.lease_until,"
                        " job_id = EXCLUDED.job_id, done_at = NULL, expires_at = NULL"
                        " WHERE (t.state = 'lease' AND t.lease_until <= clock_timestamp())"
                        " OR (t.state = 'done' AND t.expires_at <= clock_timestamp())"
                        " RETURNING token"
                    ),
                    {"effect": effect, "key": key, "token": token, "lease": lease, "job": job_id},
                ).fetchone()
                if row is not None:
                    return Claim(State.CLAIMED, token=token)
                row = conn.execute(
                    self._sql(
                        "SELECT state, job_id, extract(epoch FROM lease_until - clock_timestamp())"
                        " FROM {t} WHERE effect = %s AND key = %s"
                    ),
                    (effect, key),
                ).fetchone()
                if row is None:
                    continue  # released between the two statements: claim again
                state, done_by, left = row
                if state == "done":
                    return Claim(State.DONE, done_by=done_by or "")
                return Claim(State.BUSY, expires_in=max(0.0, float(left or 0)))

    def complete(
        self, effect: str, key: str, claim: Claim, *, job_id: str, connection: Any
    ) -> None:
        with self._on(connection, f"record {effect}:{key}") as conn:
            conn.execute(
                self._sql(
                    "INSERT INTO {t} AS t (effect, key, state, job_id, done_at, expires_at)"
                    " VALUES (%(effect)s, %(key)s, 'done', %(job)s, clock_timestamp(),"
                    " clock_timestamp() + %(ttl)s * interval '1 second')"
                    " ON CONFLICT (effect, key) DO UPDATE SET state = 'done', token = NULL,"
                    " lease_until = NULL, job_id = EXCLUDED.job_id, done_at = EXCLUDED.done_at,"
                    " expires_at = EXCLUDED.expires_at"
                ),
                {"effect": effect, "key": key, "job": job_id, "ttl": self.ttl},
            )

    def release(self, effect: str, key: str, claim: Claim, *, connection: Any) -> None:
        with self._on(connection, f"release {effect}:{key}") as conn:
            conn.execute(
                self._sql("DELETE FROM {t} WHERE effect = %s AND key = %s AND token = %s"),
                (effect, key, claim.token),
            )


# ----------------------------------------------------------------------------- the default store

_default_store: Store | None = None


def configure(*, store: Store | None) -> None:
    """Set the store ``effect_once`` uses when a call names none (``None`` unsets it)."""
    global _default_store
    _default_store = store


def default_store() -> Store | None:
    return _default_store


# ----------------------------------------------------------------------------- the guard

KeySource = str | int | Callable[..., Any]


class Attempt:
    """One guarded performance of an effect: a context manager whose value says whether the
    block must perform it (``if attempt:``); ``effect_once(...)`` makes it."""

    def __init__(
        self,
        guard: effect_once,
        key: Any,
        connection: Any,
    ) -> None:
        if key is None or key == "":
            raise ValueError(f"effect_once({guard.effect!r}): the key is empty")
        self.guard = guard
        self.key = str(key)
        self.connection = connection
        self.store = guard._store()
        job = current_job()
        self.job_id = guard.job_id if guard.job_id is not None else (job.id if job else "")
        self.should_run = False
        self.claim: Claim | None = None
        self.probe: confirm | None = None
        self._scope: contextlib.AbstractContextManager[Any] | None = None
        #: the read-back the decorator binds to the call's result and arguments
        self.verify: Callable[[], Any] | None = None

    def __bool__(self) -> bool:
        return self.should_run

    @property
    def skipped(self) -> bool:
        """The effect was done before: the block must not perform it."""
        return self.claim is not None and self.claim.state is State.DONE

    # -- entering: scope, claim (waiting for a concurrent attempt), span

    def _lease(self) -> float:
        return float(self.guard.lease if self.guard.lease is not None else self.store.lease)

    def _deadline(self) -> float:
        wait = self.guard.wait if self.guard.wait is not None else self._lease()
        return time.monotonic() + float(wait)

    def _claim_once(self) -> Claim:
        return self.store.claim(
            self.guard.effect, self.key, lease=self._lease(), job_id=self.job_id,
            connection=self.connection,
        )  # fmt: skip

    def _busy(self, claim: Claim) -> EffectBusy:
        return EffectBusy(
            f"effect_once({self.guard.effect!r}, key={self.key!r}): another attempt holds it "
            f"(its lease ends in {claim.expires_in:.1f}s); not performed here, retry later"
        )

    def _open_scope(self) -> None:
        self._scope = self.store.scope(self.connection)
        try:
            self._scope.__enter__()
        except GuardError:
            raise
        except Exception as exc:
            raise GuardUnavailable(f"could not open the guard's transaction: {exc}") from exc

    def _close_scope(self, exc: BaseException | None) -> None:
        scope, self._scope = self._scope, None
        if scope is not None:
            scope.__exit__(type(exc) if exc is not None else None, exc, None)

    def _claimed(self, claim: Claim) -> None:
        self.claim = claim
        if claim.state is State.DONE:
            self._skip_span(claim)
            return
        self.should_run = True
        self.probe = confirm(
            self.guard.effect, self.key, self.guard.job_id,
            tracer_provider=self.guard.tracer_provider, **self.guard.attributes,
        )  # fmt: skip
        self.probe._start(self.key)

    def _skip_span(self, claim: Claim) -> None:
        with guarded("effect_once: the side_effect.skip span"):
            job = current_job()
            attributes: dict[str, Any] = {
                semconv.SIDE_EFFECT_NAME: str(self.guard.effect),
                semconv.SIDE_EFFECT_KEY: self.key,
                semconv.SIDE_EFFECT_REASON: semconv.SideEffectReasonValues.ALREADY_DONE.value,
            }
            if self.job_id:
                attributes[semconv.JOB_ID] = self.job_id
            if job is not None:
                attributes[semconv.JOB_SYSTEM] = job.system
            if claim.done_by:
                attributes[semconv.SIDE_EFFECT_DONE_BY] = claim.done_by
            attributes.update(_clean(self.guard.attributes))
            tracer = get_tracer(self.guard.tracer_provider)
            span = tracer.start_span(
                semconv.SIDE_EFFECT_SKIP_SPAN, kind=SpanKind.INTERNAL, attributes=attributes
            )
            span.end()

    def __enter__(self) -> Attempt:
        self._open_scope()
        try:
            deadline = self._deadline()
            while True:
                claim = self._claim_once()
                if claim.state is not State.BUSY:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._busy(claim)
                time.sleep(min(POLL, left))
            self._claimed(claim)
        except BaseException as exc:
            self._close_scope(exc)
            raise
        return self

    async def __aenter__(self) -> Attempt:
        self._open_scope()
        try:
            deadline = self._deadline()
            while True:
                claim = await self._off_loop(self._claim_once)
                if claim.state is not State.BUSY:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._busy(claim)
                await asyncio.sleep(min(POLL, left))
            self._claimed(claim)
        except BaseException as exc:
            self._close_scope(exc)
            raise
        return self

    async def _off_loop(self, call: Callable[[], Any]) -> Any:
        """A store call from a coroutine: in a thread, unless it runs on the caller's
        connection (whose transaction belongs to this thread)."""
        if self.connection is not None:
            return call()
        return await asyncio.to_thread(call)

    # -- leaving: verify, record or release, scope, span

    def _settle(self, exc: BaseException | None) -> BaseException | None:
        """Record the key (success) or release the claim; returns the exception that ends
        the block (the body's, or the store's when recording on the caller's connection)."""
        claim, probe = self.claim, self.probe
        assert claim is not None and probe is not None
        store, effect = self.store, self.guard.effect
        if exc is None and probe._failed is None:
            try:
                store.complete(effect, self.key, claim, job_id=self.job_id,
                               connection=self.connection)  # fmt: skip
            except GuardError as failure:
                if self.connection is not None:
                    return failure  # the transaction cannot commit: the effect's writes go too
                logger.error(
                    "probes: effect_once(%r, key=%r) was performed but could not be recorded "
                    "(%s); the key stays leased until its lease runs out", effect, self.key,
                    failure,
                )  # fmt: skip
            return None
        if exc is not None and self.connection is not None:
            return exc  # the scope rolls back: the claim goes with the effect's writes
        try:
            store.release(effect, self.key, claim, connection=self.connection)
        except GuardError as failure:
            logger.warning(
                "probes: effect_once(%r, key=%r) could not release its claim (%s); a retry "
                "waits for the lease to run out", effect, self.key, failure,
            )  # fmt: skip
        return exc

    def _end(self, ending: BaseException | None) -> BaseException | None:
        """Close the scope (commit or roll back the caller's transaction) and end the
        confirmation span; returns the exception that ends the block."""
        if not self.should_run:
            self._close_scope(ending)
            return ending
        probe = self.probe
        assert probe is not None
        try:
            self._close_scope(ending)
        except BaseException as failure:  # the commit failed: the effect's writes are gone
            if ending is None:
                ending = failure
                if not isinstance(failure, GuardError):
                    ending = GuardUnavailable(f"the guard's transaction did not commit: {failure}")
                    ending.__cause__ = failure
        probe._finish(ending)
        return ending

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            exc = self._run_verify()
            ending = self._end(self._settle(exc) if self.should_run else exc)
            if ending is not None:
                raise ending
            return
        ending = self._end(self._settle(exc) if self.should_run else exc)
        if ending is not None and ending is not exc:
            raise ending from exc

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            exc = await self._run_verify_async()
            ending = self._end(await self._settle_async(exc))
            if ending is not None:
                raise ending
            return
        ending = self._end(await self._settle_async(exc))
        if ending is not None and ending is not exc:
            raise ending from exc

    async def _settle_async(self, exc: BaseException | None) -> BaseException | None:
        if not self.should_run:
            return exc
        return await self._off_loop(lambda: self._settle(exc))

    def _read_back(self) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
        """The read-back to run and its arguments: the decorator's bound one, else the
        guard's ``verify`` with no argument (the context-manager form)."""
        if not self.should_run or self.probe is None:
            return None
        if self.verify is not None:
            return self.verify, ()
        if self.guard.verify is not None:
            return self.guard.verify, ()
        return None

    def _run_verify(self) -> BaseException | None:
        found = self._read_back()
        if found is None:
            return None
        assert self.probe is not None
        try:
            self.probe._verify(found[0], *found[1])
        except BaseException as exc:
            return exc
        return None

    async def _run_verify_async(self) -> BaseException | None:
        found = self._read_back()
        if found is None:
            return None
        assert self.probe is not None
        try:
            await self.probe._verify_async(found[0], *found[1])
        except BaseException as exc:
            return exc
        return None


class effect_once:
    """Perform an effect once per key; see the module docstring.

    As a decorator (sync or ``async def``), ``key`` (and ``connection``) may be functions of
    the decorated function's arguments; a skipped call returns ``None``. As a context manager
    the value says whether to perform the effect::

        with effect_once("ledger.written", key=order_id, store=pg, connection=conn) as todo:
            if todo:
                conn.execute("INSERT INTO ledger ...")

    ``verify`` is ``confirm``'s read-back: called with the result then the arguments of the
    decorated function (with no argument in the ``with`` form); a falsy answer makes the
    confirmation failed and leaves the key unrecorded, so a retry performs the effect again.
    ``lease`` and ``wait`` override the store's lease and the wait for a concurrent attempt
    (default: the lease), in seconds. Other keyword arguments become span attributes.
    """

    def __init__(
        self,
        effect: str,
        key: KeySource,
        *,
        store: Store | None = None,
        connection: Any = None,
        job_id: str | None = None,
        verify: Callable[..., Any] | None = None,
        lease: float | None = None,
        wait: float | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        **attributes: Any,
    ) -> None:
        self.effect = effect
        self.key = key
        self.store = store
        self.connection = connection
        self.job_id = job_id
        self.verify = verify
        self.lease = lease
        self.wait = wait
        self.tracer_provider = tracer_provider
        self.attributes = attributes
        #: the attempts of ``with`` blocks in progress, per thread and task (they may nest)
        self._attempts: contextvars.ContextVar[tuple[Attempt, ...]] = contextvars.ContextVar(
            f"probes_effect_once_{id(self)}", default=()
        )

    def _store(self) -> Store:
        store = self.store if self.store is not None else _default_store
        if store is None:
            raise GuardUnavailable(
                f"effect_once({self.effect!r}): no store; pass store=... or call "
                "probes.guard.configure(store=...)"
            )
        return store

    def attempt(self, *args: Any, **kwargs: Any) -> Attempt:
        """The attempt for one call with these arguments (``key``/``connection`` applied)."""
        key = self.key(*args, **kwargs) if callable(self.key) else self.key
        connection = self.connection
        if callable(connection) and not hasattr(connection, "execute"):
            connection = connection(*args, **kwargs)
        return Attempt(self, key, connection)

    # -- context manager (the key and connection as given)

    def _begin(self) -> Attempt:
        if callable(self.key):
            raise TypeError("effect_once as a context manager needs a key, not a function")
        return self.attempt()

    def _entered(self, attempt: Attempt) -> Attempt:
        self._attempts.set((*self._attempts.get(), attempt))
        return attempt

    def _end(self) -> Attempt:
        *outer, attempt = self._attempts.get()
        self._attempts.set(tuple(outer))
        return attempt

    def __enter__(self) -> Attempt:
        return self._entered(self._begin().__enter__())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end().__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Attempt:
        return self._entered(await self._begin().__aenter__())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._end().__aexit__(exc_type, exc, tb)

    # -- decorator

    def __call__(self, func: F) -> F:
        verify = self.verify
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                attempt = self.attempt(*args, **kwargs)
                async with attempt:
                    if not attempt:
                        return None
                    result = await func(*args, **kwargs)
                    if verify is not None:
                        attempt.verify = functools.partial(verify, result, *args, **kwargs)
                    return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            attempt = self.attempt(*args, **kwargs)
            with attempt:
                if not attempt:
                    return None
                result = func(*args, **kwargs)
                if verify is not None:
                    attempt.verify = functools.partial(verify, result, *args, **kwargs)
                return result

        return wrapper  # type: ignore[return-value]
