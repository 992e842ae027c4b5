"""The safetensors file layout, without the safetensors package.

A file is an 8-byte little-endian header length ``n``, ``n`` bytes of JSON
(``{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
..., "__metadata__": {...}}``, padded with spaces to a multiple of 8), then
the tensors' bytes back to back (offsets relative to the end of the header).
:mod:`canopy.torch` sends a state_dict in exactly this layout, so what a
worker receives can also be written out as a ``.safetensors`` file.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from typing import Dict, List, Optional, Sequence, Tuple

#: Largest header accepted (as the safetensors library: 100 MB).
MAX_HEADER_BYTES = 100_000_000

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1}


@dataclasses.dataclass(frozen=True)
class TensorEntry:
    """One tensor of a file: its bytes are ``[begin, end)`` of the file."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


def build_header(tensors: Sequence[Tuple[str, str, Sequence[int]]],
                 metadata: Optional[Dict[str, str]] = None,
                 align: int = 8) -> Tuple[bytes, List[TensorEntry]]:
    """The header bytes (length prefix included) for ``(name, dtype, shape)``
    tensors laid out in that order, and each tensor's place in the file.
    The header is padded with spaces so the data starts at a multiple of
    ``align`` (a multiple of 8): with the chunk size, a tensor that changes
    touches no chunk of its neighbours beyond the ones it shares."""
    table: Dict[str, object] = {}
    if metadata:
        table["__metadata__"] = dict(metadata)
    at = 0
    spans = []
    for name, dtype, shape in tensors:
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"tensor {name}: dtype {dtype} has no safetensors name")
        if name in table or name == "__metadata__":
            raise ValueError(f"tensor name {name!r} appears twice")
        n = DTYPE_BYTES[dtype]
        for d in shape:
            n *= int(d)
        table[name] = {"dtype": dtype, "shape": [int(d) for d in shape],
                       "data_offsets": [at, at + n]}
        spans.append((name, dtype, tuple(int(d) for d in shape), at, at + n))
        at += n
    text = json.dumps(table, separators=(",", ":")).encode()
    if align % 8:
        raise ValueError("align must be a multiple of 8")
    text += b" " * ((align - (8 + len(text)) % align) % align)
    head = struct.pack("<Q", len(text)) + text
    return head, [TensorEntry(name, dtype, shape, len(head) + b, len(head) + e)
                  for name, dtype, shape, b, e in spans]


def parse_header(data) -> Tuple[Dict[str, str], List[TensorEntry], int]:
    """Metadata, tensors (in file order) and the total file size from the
    start of a file (at least its header). Raises ValueError when the header
    is malformed or the tensors do not tile the data."""
    view = memoryview(data).cast("B")
    if view.nbytes < 8:
        raise ValueError("safetensors data shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", view[:8])
    if n > MAX_HEADER_BYTES or 8 + n > view.nbytes:
        raise ValueError(f"safetensors header of {n} bytes does not fit")
    try:
        table = json.loads(bytes(view[8:8 + n]).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"safetensors header is not JSON: {e}") from None
    if not isinstance(table, dict):
        raise ValueError("safetensors header is not a JSON object")
    metadata = table.pop("__metadata__", None) or {}
    entries = []
    for name, t in table.items():
        try:
            dtype, shape, (b, e) = t["dtype"], tuple(t["shape"]), t["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"tensor {name!r}: malformed header entry") from None
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"tensor {name!r}: unknown dtype {dtype}")
        want = DTYPE_BYTES[dtype]
        for d in shape:
            if not isinstance(d, int) or d < 0:
                raise ValueError(f"tensor {name!r}: bad shape {list(shape)}")
            want *= d
        if not (isinstance(b, int) and isinstance(e, int)) or e - b != want or b < 0:
            raise ValueError(f"tensor {name!r}: data_offsets {b}..{e} do not hold {want} bytes")
        entries.append(TensorEntry(name, dtype, shape, 8 + n + b, 8 + n + e))
    entries.sort(key=lambda t: (t.begin, t.end))
    at = 8 + n
    for t in entries:
        if t.begin != at:
            raise ValueError(f"tensor {t.name!r} starts at {t.begin - 8 - n}, want {at - 8 - n}")
        at = t.end
    return metadata, entries, at
