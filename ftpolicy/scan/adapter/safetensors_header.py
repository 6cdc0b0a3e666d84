"""Read a safetensors file's header without loading any tensor data.

Layout: an unsigned 64-bit little-endian header length ``N``, ``N`` bytes of UTF-8 JSON
(possibly space-padded) mapping tensor names to ``{"dtype", "shape", "data_offsets"}``
(offsets relative to the first byte after the header), an optional ``__metadata__``
object of strings, then the tensor data, contiguous, with no holes and no overlaps.

:func:`read_header` never trusts a number before checking it against the file size; a
hostile header (length 2**63, offsets past the end, overlapping tensors) becomes a list
of :class:`HeaderProblem` values, never an exception or a huge allocation.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_HEADER_BYTES = 100 * 1000 * 1000  # the safetensors library's own cap

DTYPE_BYTES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it (offsets relative to the data section)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        """Number of elements (1 for a scalar)."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class HeaderProblem:
    """Something wrong with the header; ``rule`` is the finding's rule suffix."""

    rule: str
    message: str
    tensor: str | None = None


@dataclass
class SafetensorsHeader:
    """What :func:`read_header` found: tensors (only well-formed ones) and problems."""

    path: Path
    file_bytes: int
    header_bytes: int | None = None
    tensors: list[TensorInfo] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    problems: list[HeaderProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the header is structurally sound."""
        return not self.problems


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_header(path: Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> SafetensorsHeader:
    """Parse ``path``'s header with bounds checks; reads at most 8 + ``max_header_bytes`` bytes."""
    size = os.stat(path).st_size
    out = SafetensorsHeader(path=path, file_bytes=size)
    with open(path, "rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            out.problems.append(
                HeaderProblem(
                    "safetensors-header-length", f"file has {size} bytes, fewer than the 8-byte length"
                )
            )
            return out
        (n,) = struct.unpack("<Q", prefix)
        out.header_bytes = n
        if n > size - 8:
            out.problems.append(
                HeaderProblem(
                    "safetensors-header-length",
                    f"header length {n} is larger than the {size - 8} bytes after the length field",
                )
            )
            return out
        if n > max_header_bytes:
            out.problems.append(
                HeaderProblem(
                    "safetensors-header-length",
                    f"header length {n} exceeds the {max_header_bytes}-byte limit",
                )
            )
            return out
        raw = fh.read(n)
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        out.problems.append(HeaderProblem("safetensors-header-json", f"header is not UTF-8 JSON ({exc})"))
        return out
    if not isinstance(doc, dict):
        out.problems.append(
            HeaderProblem("safetensors-header-json", f"header is a JSON {type(doc).__name__}, not an object")
        )
        return out
    meta = doc.pop("__metadata__", None)
    if meta is not None:
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            out.problems.append(
                HeaderProblem("safetensors-header-json", "__metadata__ must be an object of strings")
            )
        else:
            out.metadata = dict(meta)
    data_bytes = size - 8 - n
    for name, entry in doc.items():
        info = _tensor(name, entry, out.problems)
        if info is not None:
            out.tensors.append(info)
    _check_layout(out.tensors, data_bytes, out.problems)
    return out


def _tensor(name: str, entry: Any, problems: list[HeaderProblem]) -> TensorInfo | None:
    if not isinstance(entry, dict):
        problems.append(HeaderProblem("safetensors-header-json", "entry is not an object", name))
        return None
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    extra = sorted(set(entry) - {"dtype", "shape", "data_offsets"})
    if extra:
        problems.append(HeaderProblem("safetensors-header-json", f"unexpected keys {extra}", name))
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        problems.append(HeaderProblem("safetensors-dtype", f"unknown dtype {dtype!r}", name))
        return None
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        problems.append(
            HeaderProblem("safetensors-header-json", f"shape {shape!r} is not a list of sizes", name)
        )
        return None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        problems.append(
            HeaderProblem(
                "safetensors-offsets", f"data_offsets {offsets!r} is not [begin, end] with begin <= end", name
            )
        )
        return None
    info = TensorInfo(name, dtype, tuple(shape), int(offsets[0]), int(offsets[1]))
    want = info.numel * DTYPE_BYTES[dtype]
    if info.end - info.begin != want:
        problems.append(
            HeaderProblem(
                "safetensors-size",
                f"{info.end - info.begin} bytes for shape {list(shape)} of {dtype}, which needs {want}",
                name,
            )
        )
    return info


def _check_layout(tensors: list[TensorInfo], data_bytes: int, problems: list[HeaderProblem]) -> None:
    pos = 0
    for t in sorted(tensors, key=lambda t: (t.begin, t.end, t.name)):
        if t.end > data_bytes:
            problems.append(
                HeaderProblem(
                    "safetensors-offsets",
                    f"data_offsets [{t.begin}, {t.end}] end past the {data_bytes} data bytes in the file",
                    t.name,
                )
            )
        if t.begin < pos:
            problems.append(
                HeaderProblem(
                    "safetensors-overlap",
                    f"bytes [{t.begin}, {min(pos, t.end)}) overlap another tensor",
                    t.name,
                )
            )
        elif t.begin > pos:
            problems.append(
                HeaderProblem(
                    "safetensors-offsets", f"hole of {t.begin - pos} bytes before this tensor", t.name
                )
            )
        pos = max(pos, t.end)
    if pos < data_bytes:
        problems.append(
            HeaderProblem(
                "safetensors-offsets",
                f"{data_bytes - pos} trailing bytes after the last tensor are not described",
            )
        )
