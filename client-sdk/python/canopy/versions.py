"""Versions: successive versions of one blob, deltas, late joiners.

A :class:`VersionPublisher` pushes versions; a push with the size and
chunking of the version before sends only the chunks whose content changed.
A :class:`VersionReceiver` returns one whole verified version per call:
a receiver that lacks what a delta builds on (joined late, missed a version,
restarted) fetches the last whole version and the deltas since from the
nodes' replay rings, on its own path; nothing is re-sent to the others.
Bounds (docs/objects.md, "Versions"): the publisher's node must keep the
last whole version and the deltas since in its replay ring (canopy-node
``--replay-mib`` at least twice the version's size); the publisher sends a
whole version once the deltas since exceed ``max_chain_bytes`` (default:
the version's size) or ``max_chain`` pushes.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional, Union

from canopy import _canopy
from canopy.client import Subscriber, TlsFiles, _tls


@dataclasses.dataclass(frozen=True)
class PushedVersion:
    """What a push sent: the whole version (``delta`` False) or only the
    ``chunks_sent`` chunks that changed (``sent_bytes`` of ``size``)."""

    version: int
    size: int
    sent_bytes: int
    chunks_sent: int
    delta: bool
    seconds: float
    sha256: str
    #: With ``wait_for``: how many receivers held the version on return.
    receivers: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class VersionInfo:
    """A version as the receiver sees it: its publisher (``source``, and
    ``stream``, random per publisher), number, size, SHA-256 of the whole
    version, the publisher's ``table`` (e.g. a safetensors header), and
    whether it came as a delta on ``base_version``."""

    source: str
    stream: int
    version: int
    size: int
    chunk_bytes: int
    sha256: str
    table: bytes
    delta: bool
    base_version: int
    received_bytes: int = 0
    seconds: float = 0.0


def _info(d: Optional[dict]) -> Optional[VersionInfo]:
    return None if d is None else VersionInfo(**d)


class VersionPublisher:
    """Pushes versions of one blob to ``group`` as ``source``.

    Announces the latest version after every push and every
    ``announce_every`` seconds from a background thread, so receivers that
    join between pushes learn of it. Thread-safe.
    """

    def __init__(self, node: str, group: str, source: str, *, chunk_bytes: int = 1 << 20,
                 announce_every: float = 1.0, max_chain: int = 16, max_chain_bytes: int = 0,
                 transport: str = "auto", tls: Optional[TlsFiles] = None) -> None:
        self._impl = _canopy.VersionPublisher(node, group, source, transport, _tls(tls),
                                              chunk_bytes, announce_every, max_chain,
                                              max_chain_bytes)

    def push(self, data, *, version: Optional[int] = None, name: str = "version",
             table: bytes = b"", whole: bool = False, wait_for: Optional[int] = None,
             timeout: Optional[float] = None,
             on_progress: Optional[Callable[[int], None]] = None) -> PushedVersion:
        """Sends ``data`` (bytes-like, read in place) as the next version
        (default: last + 1; else it must be above the last).

        ``wait_for=N`` then waits until N receivers hold the version
        verified, at most ``timeout`` seconds for the whole push, and raises
        :class:`canopy.DeadlineExceeded` saying how many do and naming up
        to 16 that do not (``MEMBER@NODE``, ``MEMBER@NODE (left)``,
        ``NODE (no answer)``, ``NODE (left the tree)``); the version stays
        pushed. ``transport="grpc"`` cannot wait (:class:`canopy.Unimplemented`).
        An interrupted push (Ctrl-C) leaves the publisher unusable.
        """
        return PushedVersion(**self._impl.push(data, version, name, bytes(table), whole,
                                               int(wait_for or 0), timeout, on_progress))

    @property
    def version(self) -> int:
        """The last version pushed (0 = none)."""
        return self._impl.version

    def close(self) -> None:
        """Stops announcing and ends the stream once the node accepted it all."""
        self._impl.close()

    def __enter__(self) -> "VersionPublisher":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


#: destination(info) -> list of writable buffers (and ints: byte counts that
#: go to on_write instead) covering the version in order.
Destination = Callable[[dict], List[Union[object, int]]]


class VersionReceiver:
    """Receives versions from a :class:`Subscriber`, one whole verified
    version per call. Not thread-safe: one receive at a time."""

    def __init__(self, subscriber: Subscriber) -> None:
        self._impl = _canopy.VersionReceiver(subscriber._impl)
        self._subscriber = subscriber

    def receive(self, destination: Destination, *, timeout: Optional[float] = None,
                on_verified: Optional[Callable[[int, int], None]] = None,
                on_write: Optional[Callable[[int, memoryview], None]] = None) -> VersionInfo:
        """Receives the next version newer than the one held.

        ``destination(info)`` (info: a dict of :class:`VersionInfo` fields)
        is called before any byte is written and returns where the version
        goes: writable buffers, and integers for byte ranges handed to
        ``on_write(offset, bytes)`` instead. An exception it raises ends the
        receive with nothing written. Returning the buffers of the held
        version patches a delta in place. ``on_verified(offset, size)``: those
        bytes are in place and verified. Returns once the whole version is in
        place and its SHA-256 matched. Raises DeadlineExceeded naming what it
        waited for, DataLoss when no node holds what it needs any more.
        """
        return VersionInfo(**self._impl.receive(destination, timeout, on_verified, on_write))

    def receive_into(self, buffer, *, timeout: Optional[float] = None,
                     on_verified: Optional[Callable[[int, int], None]] = None) -> VersionInfo:
        """Receives the next version into the front of ``buffer`` (writable,
        contiguous). Raises FailedPrecondition if it is too small."""
        from canopy.errors import FailedPrecondition
        from canopy.objects import _writable
        view = memoryview(_writable(buffer)).cast("B")

        def destination(info):
            if info["size"] > view.nbytes:
                raise FailedPrecondition(
                    f"version {info['version']} is {info['size']} bytes; the buffer holds "
                    f"{view.nbytes}")
            return [view[:info["size"]]]

        return self.receive(destination, timeout=timeout, on_verified=on_verified)

    @property
    def held(self) -> Optional[VersionInfo]:
        """The version held; None before the first receive and after a
        failed one."""
        return _info(self._impl.held)
