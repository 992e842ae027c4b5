"""Message streams: :class:`Publisher` and :class:`Subscriber`."""

from __future__ import annotations

import dataclasses
from typing import Iterator, Optional, Sequence, Union

from canopy import _canopy


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """PEM files for mutual TLS with a node that serves TLS (scripts/make-certs).

    ``cert`` must be signed by the node's CA; publishing as source ``S`` needs
    a certificate with ``OU=publisher`` and ``CN=S``.
    """

    ca: str
    cert: str
    key: str


def _tls(tls: Optional[TlsFiles]):
    return None if tls is None else (str(tls.ca), str(tls.cert), str(tls.key))


@dataclasses.dataclass(frozen=True)
class Message:
    """One message as delivered: its ``source``, ``sequence`` (per source,
    from 1, increasing) and ``payload``. ``resent`` marks a message sent again
    on request (Subscriber.request_resend)."""

    group: str
    source: str
    sequence: int
    payload: bytes
    resent: bool = False


@dataclasses.dataclass(frozen=True)
class Gap:
    """Messages of ``source`` that were lost: sequences ``first`` .. ``last``
    never arrived (a ``realtime`` group dropped them for a slow receiver, or
    no node held them any more)."""

    source: str
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@dataclasses.dataclass(frozen=True)
class PublishResult:
    """What the node accepted from a publisher."""

    messages: int
    bytes: int
    first_sequence: int
    last_sequence: int


class Publisher:
    """Publishes messages to ``group`` as ``source`` through the node at
    ``node`` (``HOST:PORT`` of its client endpoint).

    Messages reach every subscriber whose filter admits this source, in
    order, each once. :meth:`send` blocks while the tree is slower than the
    publisher. Use as a context manager, or call :meth:`finish` at the end:
    a publisher dropped without it may lose messages still in flight.

    Raises :class:`canopy.InvalidArgument` for a malformed option,
    :class:`canopy.PermissionDenied` for a source the group refuses,
    :class:`canopy.Unavailable` when the node cannot be reached.
    ``transport`` is ``"auto"`` (shared memory when the node runs on this
    host, else a TCP link), ``"shm"``, ``"link"`` or ``"grpc"``.
    Not thread-safe: one thread at a time.
    """

    def __init__(self, node: str, group: str, source: str, *, transport: str = "auto",
                 tls: Optional[TlsFiles] = None) -> None:
        self._impl = _canopy.Publisher(node, group, source, transport, _tls(tls))
        self.group, self.source = group, source

    def send(self, payload) -> None:
        """Sends one message (any bytes-like object)."""
        self._impl.send(payload)

    def finish(self) -> PublishResult:
        """Ends the stream once the node accepted every message."""
        return PublishResult(*self._impl.finish())

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()


class Subscriber:
    """A subscription to ``group`` at the node ``node``: creating it joins,
    :meth:`close` (or leaving the ``with`` block) leaves.

    Iterating yields :class:`Message` objects of every admitted source in
    order, and a :class:`Gap` right before a message when messages of its
    source were lost. ``sources`` with ``mode="include"`` receives only
    those sources, with ``mode="exclude"`` (default) all but those.
    ``transport`` is ``"auto"`` (shared memory when the node runs on this
    host, else a TCP link), ``"shm"``, ``"link"`` or ``"grpc"``; ``"grpc"``
    carries messages inside the gRPC call (one port; no resends, so no
    late-joiner catch-up for versions, no acknowledgements).
    ``member`` names this subscriber where a publisher waiting for
    receivers (``wait_for``) reports it missing: 1..64 characters of
    ``[A-Za-z0-9._:@/-]``; default ``HOST:PID``.
    """

    def __init__(self, node: str, group: str, *, sources: Sequence[str] = (),
                 mode: str = "exclude", transport: str = "auto",
                 tls: Optional[TlsFiles] = None, wait_joined: Optional[float] = 30.0,
                 member: str = "") -> None:
        self._impl = _canopy.Subscriber(node, group, mode, list(sources), transport, _tls(tls),
                                        member)
        self.group = group
        self._pending: Optional[Message] = None
        if wait_joined:
            self.wait_joined(wait_joined)

    def wait_joined(self, timeout: Optional[float] = 30.0) -> None:
        """Waits until the controller planned the join, so messages published
        from now on arrive. Raises :class:`canopy.DeadlineExceeded`."""
        self._impl.wait_joined(timeout)

    def next(self, timeout: Optional[float] = None) -> Union[Message, Gap]:
        """The next event: a :class:`Gap` before a message that follows lost
        ones, else the :class:`Message`. Raises DeadlineExceeded after
        ``timeout`` seconds, and the subscription's error when it ends
        (Cancelled after close())."""
        if self._pending is not None:
            m, self._pending = self._pending, None
            return m
        group, source, sequence, payload, missed, resent = self._impl.next(timeout)
        m = Message(group, source, sequence, payload, resent)
        if missed:
            self._pending = m
            return Gap(source, sequence - missed, sequence - 1)
        return m

    def __iter__(self) -> Iterator[Union[Message, Gap]]:
        while True:
            try:
                yield self.next()
            except _cancelled():
                return

    def request_resend(self, source: str, first: int, last: int) -> None:
        """Asks the node for messages first..last of ``source`` again (served
        from the replay rings); they arrive marked ``resent``."""
        self._impl.request_resend(source, first, last)

    def close(self) -> None:
        """Leaves the group; a blocked next() raises Cancelled."""
        self._impl.cancel()

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def _cancelled():
    from canopy.errors import Cancelled
    return Cancelled
