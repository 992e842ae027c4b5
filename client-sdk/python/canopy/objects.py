"""Objects: a file or buffer sent once, received whole and verified."""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional, Sequence, Tuple, Union

from canopy import _canopy
from canopy.client import Publisher, Subscriber

#: on_chunk(offset, chunk): a verified chunk (a memoryview valid during the call).
ChunkCallback = Callable[[int, memoryview], None]
#: on_progress(done_bytes, total_bytes)
ProgressCallback = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class SentObject:
    """An object the node accepted whole."""

    name: str
    size: int
    chunk_bytes: int
    chunk_count: int
    sha256: str
    seconds: float
    #: With ``wait_for``: how many receivers held it verified on return.
    receivers: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class ReceivedObject:
    """An object that arrived whole; its SHA-256 matched the sender's."""

    name: str
    size: int
    chunk_bytes: int
    chunk_count: int
    sha256: str
    source: str
    seconds: float
    first_byte_seconds: float


def _publishers(publisher: Union[Publisher, Sequence[Publisher]]):
    if isinstance(publisher, Publisher):
        return [publisher._impl]
    return [p._impl for p in publisher]


def send_object(publisher: Union[Publisher, Sequence[Publisher]], name: str, data, *,
                chunk_bytes: int = 1 << 20,
                on_progress: Optional[Callable[[int], None]] = None,
                wait_for: int = 0, timeout: Optional[float] = 30.0) -> SentObject:
    """Sends ``data`` (any bytes-like object, read in place) as object ``name``.

    Blocks while the tree applies back pressure; ``on_progress(sent_bytes)``
    after each chunk. ``publisher`` may be a list of stripes of one source.
    Raises InvalidArgument for a bad name (1..1024 bytes) or chunk size
    (1 KiB .. 15 MiB), and the publisher's error if its stream broke.

    ``wait_for=N`` then waits until N receivers hold the object verified
    (an :class:`ObjectReceiver` acknowledges each object whose SHA-256
    matched), at most ``timeout`` seconds after sending, and raises
    :class:`canopy.DeadlineExceeded` naming up to 16 missing receivers.
    """
    return SentObject(**_canopy.send_object(_publishers(publisher), name, data, chunk_bytes,
                                            on_progress, wait_for, timeout))


def send_file(publisher: Union[Publisher, Sequence[Publisher]], path: Union[str, os.PathLike],
              name: Optional[str] = None, *, chunk_bytes: int = 1 << 20,
              on_progress: Optional[Callable[[int], None]] = None,
              wait_for: int = 0, timeout: Optional[float] = 30.0) -> SentObject:
    """Maps the file read-only and sends it as object ``name`` (default: its
    base name). NotFound / PermissionDenied for a file that cannot be read.
    ``wait_for`` and ``timeout`` as :func:`send_object`."""
    return SentObject(**_canopy.send_file(_publishers(publisher), os.fspath(path), name or "",
                                          chunk_bytes, on_progress, wait_for, timeout))


def _writable(buffer):
    """A CPU torch tensor is received through its numpy view (same memory)."""
    module = type(buffer).__module__
    if module.startswith("torch"):
        if getattr(buffer, "device", None) is not None and buffer.device.type != "cpu":
            from canopy.errors import InvalidArgument
            raise InvalidArgument(f"receive_into needs host memory, not a {buffer.device} tensor")
        if hasattr(buffer, "is_contiguous") and not buffer.is_contiguous():
            from canopy.errors import InvalidArgument
            raise InvalidArgument("receive_into needs a contiguous tensor")
        import torch
        if isinstance(buffer, torch.Tensor):
            return buffer.detach().view(-1).view(torch.uint8).numpy()
        return buffer  # a storage: passed on as it is
    return buffer


class ObjectReceiver:
    """Receives whole objects from a :class:`Subscriber`, one per call.

    A chunk whose XXH3-64 does not match is never delivered; lost or damaged
    chunks are fetched again from the nodes; completion is reported only
    after the whole object's SHA-256 matched the sender's. Other messages on
    the group are skipped.
    """

    def __init__(self, subscriber: Subscriber) -> None:
        self._impl = _canopy.ObjectReceiver(subscriber._impl)
        self._subscriber = subscriber

    def receive_into(self, buffer, *, timeout: Optional[float] = None,
                     on_chunk: Optional[ChunkCallback] = None,
                     on_progress: Optional[ProgressCallback] = None) -> ReceivedObject:
        """Receives the next object into ``buffer``: any writable contiguous
        buffer (bytearray, numpy array, mmap, a CPU torch tensor). Each
        verified chunk is written straight to its place; nothing else holds
        a copy of the object.

        Raises InvalidArgument for a read-only or non-contiguous buffer,
        FailedPrecondition (before any byte is written; the object is then
        skipped) for an object larger than the buffer, DeadlineExceeded
        after ``timeout`` seconds, DataLoss if the digest does not match.
        """
        return ReceivedObject(**self._impl.receive_into(_writable(buffer), timeout, on_chunk,
                                                        on_progress))

    def receive_chunks(self, on_chunk: ChunkCallback, *, timeout: Optional[float] = None,
                       on_progress: Optional[ProgressCallback] = None) -> ReceivedObject:
        """Receives the next object chunk by chunk through ``on_chunk``,
        without a buffer for the whole object."""
        return ReceivedObject(**self._impl.receive_chunks(on_chunk, timeout, on_progress))

    def receive(self, *, timeout: Optional[float] = None,
                on_chunk: Optional[ChunkCallback] = None,
                on_progress: Optional[ProgressCallback] = None) -> Tuple[ReceivedObject, bytes]:
        """Receives the next object and returns it as ``bytes`` (a copy: use
        receive_into for large objects)."""
        info, data = self._impl.receive(timeout, on_chunk, on_progress)
        return ReceivedObject(**info), data
