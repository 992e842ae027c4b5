"""Push a PyTorch ``state_dict`` from a trainer to many workers.

``WeightPublisher(node, group, source).push(model.state_dict())`` sends the
whole state_dict as one versioned object laid out as a ``.safetensors`` file
(the tensor table travels with the version); later pushes send only the
chunks that changed. ``WeightReceiver(node, group).receive(into=...)``
writes each verified chunk straight into the model's tensors and returns
once a whole version is in place and verified, never a mix of two versions.
Workers that join late or restart fetch what they lack from the nodes.

Importing this module imports torch; ``import canopy`` alone does not.
"""

from __future__ import annotations

import collections
import struct
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch

from canopy import safetensors
from canopy.client import Subscriber, TlsFiles
from canopy.errors import InvalidArgument
from canopy.versions import VersionPublisher, VersionReceiver

_TO_ST = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
          torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
          torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
_FROM_ST = {v: k for k, v in _TO_ST.items()}


class StateDictMismatch(InvalidArgument):
    """The version's tensors do not match ``into`` (names, dtypes, shapes,
    layout). Raised before any byte is written: the model is untouched."""


def _bytes_of(t: torch.Tensor) -> torch.Tensor:
    """The tensor's memory as a flat uint8 tensor (no copy)."""
    return t.reshape(-1).view(torch.uint8) if t.numel() else torch.empty(0, dtype=torch.uint8)


def _table(state_dict: Mapping[str, torch.Tensor]) -> tuple:
    """(name, safetensors dtype, shape) of each tensor, in order."""
    tensors = []
    for name, t in state_dict.items():
        if not isinstance(t, torch.Tensor):
            raise InvalidArgument(f"{name}: not a tensor ({type(t).__name__})")
        if t.dtype not in _TO_ST:
            raise InvalidArgument(f"{name}: dtype {t.dtype} cannot be sent")
        tensors.append((name, _TO_ST[t.dtype], tuple(t.shape)))
    return tuple(tensors)


def _plan(table: tuple, chunk_bytes: int):
    """The safetensors header and tensor places a push of ``table`` uses.
    Tensors start on a chunk boundary when the model spans many chunks, so
    a delta does not carry the header's chunk too."""
    data_bytes = sum(safetensors.DTYPE_BYTES[d] * int(torch.Size(s).numel())
                     for _, d, s in table)
    align = chunk_bytes if data_bytes >= 8 * chunk_bytes and chunk_bytes % 8 == 0 else 8
    return safetensors.build_header(table, metadata={"format": "pt"}, align=align)


def _unpadded(table: bytes) -> bytes:
    """The header a version's table stands for: the table travels without
    the spaces that pad the header to the data's alignment."""
    if len(table) >= 8:
        (n,) = struct.unpack("<Q", table[:8])
        if len(table) < 8 + n and n <= safetensors.MAX_HEADER_BYTES:
            return table + b" " * (8 + n - len(table))
    return table


class PushResult(int):
    """The version pushed (an int), with what the push sent."""

    bytes: int          # of the whole state_dict as sent (safetensors layout)
    sent_bytes: int     # chunk bytes that travelled (less for a delta)
    delta: bool
    seconds: float
    digest: str         # SHA-256 of the whole version
    receivers: Optional[int]  # with wait_for: receivers that held it on return

    @classmethod
    def _of(cls, sent, start: float) -> "PushResult":
        out = cls(sent.version)
        out.bytes, out.sent_bytes, out.delta = sent.size, sent.sent_bytes, sent.delta
        out.seconds, out.digest = time.monotonic() - start, sent.sha256
        out.receivers = sent.receivers
        return out


class WeightPublisher:
    """Pushes a model's ``state_dict`` to every :class:`WeightReceiver` of
    ``group``, as publisher ``source``.

    Keeps one host copy of the last version pushed (its size): tensors are
    copied into it (from a GPU too), so the model may change right after
    push() returns. Options as :class:`canopy.VersionPublisher`.
    """

    def __init__(self, node: str, group: str, source: str, *, chunk_bytes: int = 1 << 20,
                 announce_every: float = 1.0, max_chain: int = 16, max_chain_bytes: int = 0,
                 transport: str = "auto", tls: Optional[TlsFiles] = None) -> None:
        self._versions = VersionPublisher(node, group, source, chunk_bytes=chunk_bytes,
                                          announce_every=announce_every, max_chain=max_chain,
                                          max_chain_bytes=max_chain_bytes, transport=transport,
                                          tls=tls)
        self._chunk_bytes = chunk_bytes
        self._layout: Optional[tuple] = None
        self._header = b""
        self._entries: List[safetensors.TensorEntry] = []
        self._staging: Optional[torch.Tensor] = None

    def _stage(self, state_dict: Mapping[str, torch.Tensor]) -> torch.Tensor:
        layout = _table(state_dict)
        if layout != self._layout:
            self._header, self._entries = _plan(layout, self._chunk_bytes)
            size = self._entries[-1].end if self._entries else len(self._header)
            self._staging = torch.empty(size, dtype=torch.uint8)
            self._staging[:len(self._header)].copy_(
                torch.frombuffer(bytearray(self._header), dtype=torch.uint8))
            self._layout = layout
        for entry, t in zip(self._entries, state_dict.values()):
            if entry.nbytes:
                self._staging[entry.begin:entry.end].copy_(_bytes_of(t.detach().contiguous()))
        return self._staging

    def push(self, state_dict: Mapping[str, torch.Tensor], version: Optional[int] = None,
             wait_for: Optional[int] = None, timeout: Optional[float] = None, *,
             whole: bool = False,
             on_progress: Optional[Callable[[int], None]] = None) -> PushResult:
        """Sends ``state_dict`` as the next version (default: last + 1) and
        returns it: an int with ``bytes``, ``sent_bytes``, ``delta``,
        ``seconds`` and ``digest`` (SHA-256 of the version).

        Only chunks that changed since the last push travel (unless
        ``whole``, the tensor table changed, or the chain bound is reached).
        ``wait_for=N`` then waits until N receivers hold the version
        verified (their acknowledgements, summed up by the nodes on the
        way, so the trainer hears a few messages per version however many
        workers there are), at most ``timeout`` seconds for the whole push.
        Raises :class:`canopy.DeadlineExceeded` (a ``TimeoutError``) naming
        up to 16 missing workers (``MEMBER@NODE``, ``(left)`` for one that
        left the group) or nodes; the version stays pushed.
        """
        start = time.monotonic()
        staging = self._stage(state_dict)
        sent = self._versions.push(staging.numpy(), version=version, name="model.safetensors",
                                   table=self._header.rstrip(b" "), whole=whole,
                                   wait_for=wait_for, timeout=timeout, on_progress=on_progress)
        return PushResult._of(sent, start)

    def push_file(self, path, version: Optional[int] = None, *, whole: bool = False
                  ) -> PushResult:
        """Sends a ``.safetensors`` file as the next version, mapped read-only
        (no copy); receivers load it as they would a pushed state_dict."""
        import mmap
        import os
        start = time.monotonic()
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            (n,) = struct.unpack("<Q", data[:8])
            header = bytes(data[:8 + n])
            try:
                _, _, size = safetensors.parse_header(header)
            except ValueError as e:
                raise InvalidArgument(f"{path}: {e}") from None
            if size != len(data):
                raise InvalidArgument(f"{path}: {len(data)} bytes, its header says {size}")
            sent = self._versions.push(data, version=version, name=os.path.basename(path),
                                       table=header.rstrip(b" "), whole=whole)
        return PushResult._of(sent, start)

    @property
    def version(self) -> int:
        return self._versions.version

    def close(self) -> None:
        """Stops announcing and ends the stream."""
        self._versions.close()

    def __enter__(self) -> "WeightPublisher":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


class ReceivedWeights(int):
    """The version now held (an int), with ``tensors`` (``into``, or the new
    tensors), ``digest``, ``delta``, ``received_bytes``, ``seconds`` and
    ``source``."""

    tensors: Dict[str, torch.Tensor]
    digest: str
    delta: bool
    received_bytes: int
    seconds: float
    source: str


class _CudaWriter:
    """Copies chunks to device tensors through one pinned staging buffer."""

    def __init__(self, staging_bytes: int) -> None:
        self._stage = torch.empty(staging_bytes, dtype=torch.uint8).pin_memory()

    def write(self, target: torch.Tensor, at: int, data: memoryview) -> None:
        n = data.nbytes
        for o in range(0, n, self._stage.numel()):
            k = min(self._stage.numel(), n - o)
            self._stage[:k].copy_(torch.frombuffer(data[o:o + k], dtype=torch.uint8))
            target[at + o:at + o + k].copy_(self._stage[:k])


class WeightReceiver:
    """Receives the versions a :class:`WeightPublisher` pushes to ``group``.

    ``sources`` limits it to those publishers. ``member`` is the name a
    publisher's ``push(..., wait_for=N)`` reports it by when it does not
    hold a version in time (default ``HOST:PID``). Each version received
    whole and verified is acknowledged to the publisher. Not thread-safe.
    """

    def __init__(self, node: str, group: str, *, sources: Sequence[str] = (),
                 transport: str = "auto", tls: Optional[TlsFiles] = None,
                 staging_bytes: int = 4 << 20, member: str = "") -> None:
        self._subscriber = Subscriber(node, group, sources=sources,
                                      mode="include" if sources else "exclude",
                                      transport=transport, tls=tls, member=member)
        self._versions = VersionReceiver(self._subscriber)
        self._header = bytearray()
        self._staging_bytes = staging_bytes
        self._cuda: Optional[_CudaWriter] = None
        self.version: int = 0
        self.digest: str = ""

    def _check(self, entries, into: Mapping[str, torch.Tensor]) -> None:
        want = {e.name: e for e in entries}
        problems = []
        missing = [n for n in want if n not in into]
        extra = [n for n in into if n not in want]
        if missing:
            problems.append(f"missing in the model: {', '.join(missing[:8])}")
        if extra:
            problems.append(f"not in the version: {', '.join(extra[:8])}")
        for name, e in want.items():
            t = into.get(name)
            if t is None:
                continue
            if _FROM_ST[e.dtype] != t.dtype:
                problems.append(f"{name}: dtype {t.dtype}, the version has {_FROM_ST[e.dtype]}")
            elif tuple(t.shape) != e.shape:
                problems.append(f"{name}: shape {list(t.shape)}, the version has {list(e.shape)}")
            elif not t.is_contiguous():
                problems.append(f"{name}: not contiguous, cannot be written in place")
        if problems:
            raise StateDictMismatch("state_dict does not match the version: " +
                                    "; ".join(problems))

    def receive(self, into: Optional[Mapping[str, torch.Tensor]] = None,
                on_tensor: Optional[Callable[[str, torch.Tensor], None]] = None,
                timeout: Optional[float] = None) -> ReceivedWeights:
        """Receives the next version newer than the one held.

        With ``into`` (e.g. ``model.state_dict()``) each verified chunk is
        written straight into those tensors (CUDA ones through a bounded
        pinned staging buffer); a name, dtype or shape mismatch raises
        :class:`StateDictMismatch` before any byte is written. With
        ``into=None`` new CPU tensors are made. ``on_tensor(name, tensor)``
        is called as each tensor is complete and verified. Returns once the
        whole version is in place and its SHA-256 matched: the version number
        (an int) with ``tensors`` and ``digest``. Raises DeadlineExceeded
        after ``timeout`` seconds, KeyboardInterrupt on Ctrl-C.
        """
        state = {"entries": None, "targets": None, "done": None, "pending": None}

        def destination(info: dict):
            table = _unpadded(bytes(info["table"]))
            try:
                _, entries, size = safetensors.parse_header(table)
            except ValueError as e:
                raise StateDictMismatch(f"version {info['version']}: {e}") from None
            if size != info["size"]:
                raise StateDictMismatch(f"version {info['version']}: table says {size} bytes, "
                                        f"the version has {info['size']}")
            if into is not None:
                self._check(entries, into)
                targets = collections.OrderedDict((e.name, into[e.name]) for e in entries)
            else:
                targets = collections.OrderedDict(
                    (e.name, torch.empty(e.shape, dtype=_FROM_ST[e.dtype])) for e in entries)
            if bytes(self._header) != table:
                self._header = bytearray(table)
            parts: List[object] = [self._header]
            for e in entries:
                t = targets[e.name]
                if t.device.type == "cuda":
                    if self._cuda is None:
                        self._cuda = _CudaWriter(self._staging_bytes)
                    parts.append(e.nbytes)
                elif e.nbytes:
                    parts.append(_bytes_of(t.detach()).numpy())
            state.update(entries=entries, targets=targets, done=[0] * len(entries),
                         pending=set(range(len(entries))))
            return parts

        def tensor_index(offset: int) -> int:
            entries = state["entries"]
            lo, hi = 0, len(entries) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if entries[mid].begin <= offset:
                    lo = mid
                else:
                    hi = mid - 1
            return lo

        def on_write(offset: int, data: memoryview) -> None:
            e = state["entries"][tensor_index(offset)]
            target = _bytes_of(state["targets"][e.name].detach())
            self._cuda.write(target, offset - e.begin, data)

        def on_verified(offset: int, size: int) -> None:
            entries, end = state["entries"], offset + size
            if not entries:
                return
            i = tensor_index(offset)
            while i < len(entries) and entries[i].begin < end:
                e = entries[i]
                got = min(end, e.end) - max(offset, e.begin)
                if got > 0:
                    state["done"][i] += got
                    if state["done"][i] == e.nbytes and i in state["pending"]:
                        state["pending"].discard(i)
                        if on_tensor is not None:
                            on_tensor(e.name, state["targets"][e.name])
                i += 1

        got = self._versions.receive(destination, timeout=timeout, on_verified=on_verified,
                                     on_write=on_write)
        for i in sorted(state["pending"]):  # empty tensors: nothing to verify
            if on_tensor is not None:
                e = state["entries"][i]
                on_tensor(e.name, state["targets"][e.name])
        out = ReceivedWeights(got.version)
        out.tensors = state["targets"]
        out.digest, out.delta, out.source = got.sha256, got.delta, got.source
        out.received_bytes, out.seconds = got.received_bytes, got.seconds
        self.version, self.digest = got.version, got.sha256
        return out

    def close(self) -> None:
        """Leaves the group."""
        self._subscriber.close()

    def __enter__(self) -> "WeightReceiver":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def load_safetensors(path, into: Optional[Mapping[str, torch.Tensor]] = None
                     ) -> Dict[str, torch.Tensor]:
    """Reads a ``.safetensors`` file into ``into``'s tensors in place (checked
    first, as receive() does), or into new tensors."""
    with open(path, "rb") as f:
        head = f.read(8)
        (n,) = struct.unpack("<Q", head)
        header = head + f.read(n)
        _, entries, _ = safetensors.parse_header(header)
        if into is not None:
            WeightReceiver._check(None, entries, into)  # type: ignore[arg-type]
        out = collections.OrderedDict()
        for e in entries:
            t = into[e.name] if into is not None else torch.empty(e.shape, dtype=_FROM_ST[e.dtype])
            f.seek(e.begin)
            if e.nbytes:
                f.readinto(_bytes_of(t.detach()).numpy())
            out[e.name] = t
        return out


def save_safetensors(state_dict: Mapping[str, torch.Tensor], path, *,
                     chunk_bytes: int = 1 << 20) -> None:
    """Writes ``state_dict`` as a ``.safetensors`` file: the bytes a
    WeightPublisher with ``chunk_bytes`` pushes, so the file's SHA-256 is the
    version's digest."""
    header, _ = _plan(_table(state_dict), chunk_bytes)
    with open(path, "wb") as f:
        f.write(header)
        for t in state_dict.values():
            if t.numel():
                f.write(_bytes_of(t.detach().contiguous().cpu()).numpy().tobytes())


__all__ = ["PushResult", "ReceivedWeights", "StateDictMismatch", "WeightPublisher",
           "WeightReceiver", "load_safetensors", "save_safetensors"]
