"""Judge pickle-based weight files by their opcodes, without ever unpickling them.

A pickle runs code through the globals it imports (``GLOBAL``, ``STACK_GLOBAL``, ``INST``,
the copyreg extension codes ``EXT1/2/4``) and then calls (``REDUCE``, ``OBJ``, ``NEWOBJ``,
``BUILD``). :func:`scan_pickle_stream` walks the opcodes with :mod:`pickletools`,
simulating just enough of the stack and the memo (``PUT``/``GET``/``MEMOIZE``) to know
which module and name a ``STACK_GLOBAL`` imports, and compares every imported global with
an **allowlist** of what a genuine PyTorch / PEFT weights file needs. Everything else
(``os.system``, ``builtins.exec``, ``importlib.import_module``, ``operator.methodcaller``,
an import whose name was computed at run time, …) is reported. Nothing here imports,
calls or loads the pickle: :mod:`pickle` and :mod:`torch` are never used to read it.

Torch files come in two shapes: a zip archive whose ``*/data.pkl`` (and any other
``.pkl`` member) holds the pickle, and the legacy format of several pickles in a row
followed by raw storage bytes; both are handled.
"""

from __future__ import annotations

import io
import os
import pickletools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

# Globals a genuine torch.save / peft weights file imports.
ALLOWED_GLOBALS: frozenset[str] = frozenset(
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.Size",
        "torch.device",
        "torch.storage._load_from_bytes",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.UntypedStorage",
    }
)
_TORCH_STORAGE = re.compile(r"^torch\.(cuda\.)?[A-Z][A-Za-z0-9]*Storage$")
_TORCH_DTYPES = frozenset(
    f"torch.{n}"
    for n in (
        *("float16", "float32", "float64", "bfloat16", "half", "float", "double", "bool"),
        *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
        *("complex64", "complex128", "float8_e4m3fn", "float8_e5m2"),
    )
)

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"})
MAX_PICKLES_IN_A_ROW = 8  # the legacy torch format has 5
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19."  # pickle of torch's legacy magic number


def allowed(global_name: str) -> bool:
    """True when ``module.name`` is on the weights-file allowlist."""
    return (
        global_name in ALLOWED_GLOBALS
        or global_name in _TORCH_DTYPES
        or bool(_TORCH_STORAGE.match(global_name))
    )


@dataclass(frozen=True)
class ImportedGlobal:
    """A global a pickle imports; ``name`` is ``module.qualname`` or a description when unknown."""

    name: str
    opcode: str
    offset: int
    member: str | None  # zip member holding the pickle, if any
    resolved: bool = True


@dataclass
class PickleScan:
    """What the opcodes of one file say."""

    format: str  # "torch-zip", "pickle", "pickle-sequence"
    pickles: int = 0
    members: list[str] = field(default_factory=list)
    globals: list[ImportedGlobal] = field(default_factory=list)
    calls: int = 0  # REDUCE / OBJ / NEWOBJ / NEWOBJ_EX / INST opcodes
    opcodes: int = 0
    protocols: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def disallowed(self) -> list[ImportedGlobal]:
        """Imported globals that are not on the allowlist (including unresolved ones)."""
        return [g for g in self.globals if not g.resolved or not allowed(g.name)]


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()
_MARK = object()
_STRING_OPS = frozenset(
    {
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
        "BINBYTES",
        "SHORT_BINBYTES",
        "BINBYTES8",
    }
)
_CALL_OPS = frozenset({"REDUCE", "OBJ", "NEWOBJ", "NEWOBJ_EX", "INST"})


def _text(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return value


class _Bounded:
    """A read-only view of a stream whose ``read(n)`` never asks for more than what is left.

    A hostile length field (``BINUNICODE8`` of 2**62 bytes) then yields a short read, which
    :mod:`pickletools` reports as a malformed pickle, instead of a huge allocation.
    """

    def __init__(self, stream: IO[bytes], total: int) -> None:
        self._s = stream
        self._total = total

    def read(self, n: int = -1) -> bytes:
        left = max(0, self._total - self._s.tell())
        return self._s.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self._s.readline(1 << 20)  # protocol 0 lines are short; longer is malformed

    def tell(self) -> int:
        return self._s.tell()

    def seek(self, pos: int) -> int:
        return self._s.seek(pos)


def scan_one_pickle(stream: IO[bytes] | _Bounded, result: PickleScan, member: str | None) -> None:
    """Walk one pickle's opcodes from ``stream`` (up to its STOP), recording globals and calls.

    Raises ``ValueError`` when the bytes are not a well-formed pickle.
    """
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_to_mark() -> list[Any]:
        items: list[Any] = []
        while stack:
            top = stack.pop()
            if top is _MARK:
                return items[::-1]
            items.append(top)
        raise ValueError("MARK expected on the stack")

    for op, arg, pos in pickletools.genops(cast(IO[bytes], stream)):
        name = op.name
        result.opcodes += 1
        offset = int(pos) if pos is not None else -1
        if name == "PROTO":
            result.protocols.add(int(arg or 0))
            continue
        if name in ("GLOBAL", "INST"):
            module, _, qual = str(arg).partition(" ")
            result.globals.append(ImportedGlobal(f"{module}.{qual}", name, offset, member))
        elif name == "STACK_GLOBAL":
            if len(stack) < 2:
                raise ValueError("STACK_GLOBAL on a stack with fewer than two items")
            qual, module = stack.pop(), stack.pop()
            if isinstance(module, str) and isinstance(qual, str):
                result.globals.append(ImportedGlobal(f"{module}.{qual}", name, offset, member))
            else:
                result.globals.append(
                    ImportedGlobal(
                        "<a global whose name is computed at load time>", name, offset, member, False
                    )
                )
            stack.append(UNKNOWN)
            continue
        elif name in ("EXT1", "EXT2", "EXT4"):
            result.globals.append(
                ImportedGlobal(f"<copyreg extension code {arg}>", name, offset, member, resolved=False)
            )
        if name in _CALL_OPS:
            result.calls += 1
        # memo handling
        if name in ("PUT", "BINPUT", "LONG_BINPUT"):
            if not stack:
                raise ValueError(f"{name} on an empty stack")
            memo[int(arg or 0)] = stack[-1]
            continue
        if name == "MEMOIZE":
            if not stack:
                raise ValueError("MEMOIZE on an empty stack")
            memo[len(memo)] = stack[-1]
            continue
        if name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo.get(int(arg or 0), UNKNOWN))
            continue
        if name == "MARK":
            stack.append(_MARK)
            continue
        if name in _STRING_OPS:
            stack.append(_text(arg))
            continue
        if name == "STOP":
            return
        # generic effect: pop what the opcode consumes, push what it produces
        before = op.stack_before
        if pickletools.markobject in before:
            pop_to_mark()
            for _ in range(before.index(pickletools.markobject)):
                if not stack:
                    raise ValueError(f"{name}: stack underflow")
                stack.pop()
        else:
            for _ in before:
                if not stack:
                    raise ValueError(f"{name}: stack underflow")
                stack.pop()
        for _ in op.stack_after:
            stack.append(UNKNOWN)
    raise ValueError("no STOP opcode")


def _scan_sequence(stream: IO[bytes], total: int, result: PickleScan, member: str | None) -> None:
    """One pickle, or several in a row; trailing raw data is fine.

    torch's legacy format starts with a pickle of its magic number and holds exactly five
    pickles before the raw storage bytes; only those five are read there. Elsewhere pickles
    are read until the bytes stop parsing as one (a loader would stop there too).
    """
    bounded = _Bounded(stream, total)
    limit = MAX_PICKLES_IN_A_ROW
    for i in range(MAX_PICKLES_IN_A_ROW):
        start = bounded.tell()
        if start >= total or i >= limit:
            return
        seen = result.opcodes
        try:
            scan_one_pickle(bounded, result, member)
        except ValueError as exc:
            if i == 0:
                raise
            if result.opcodes - seen > 1:  # it began as a pickle: fail closed, say so
                result.errors.append(f"pickle #{i + 1} at byte {start} is malformed ({exc})")
            return
        result.pickles += 1
        if i == 0:
            end = bounded.tell()
            bounded.seek(start)
            if bounded.read(end - start) == TORCH_LEGACY_MAGIC:
                limit = 5
            bounded.seek(end)


def is_zip(path: Path) -> bool:
    """True when ``path`` starts like a zip archive."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def looks_like_pickle(head: bytes) -> bool:
    """A cheap content sniff: protocol 2+ header, or a protocol 0/1 opening opcode."""
    return head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5


def scan_pickle_file(path: Path) -> PickleScan:
    """Scan a pickle file or a torch zip archive (every ``.pkl`` member) without unpickling."""
    if is_zip(path):
        result = PickleScan(format="torch-zip")
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith(".pkl")]
                if not names:
                    result.errors.append("zip archive without a .pkl member (not a torch checkpoint)")
                for n in names:
                    result.members.append(n)
                    data = zf.read(n)
                    try:
                        _scan_sequence(io.BytesIO(data), len(data), result, n)
                    except ValueError as exc:
                        result.errors.append(f"{n}: not a well-formed pickle ({exc})")
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            result.errors.append(f"unreadable zip archive ({exc})")
        return result
    result = PickleScan(format="pickle")
    with open(path, "rb") as fh:  # streamed: a legacy torch file can be gigabytes of raw storage
        try:
            _scan_sequence(fh, os.fstat(fh.fileno()).st_size, result, None)
        except ValueError as exc:
            result.errors.append(f"not a well-formed pickle ({exc})")
    if result.pickles > 1:
        result.format = "pickle-sequence"
    return result


def iter_disallowed(scan: PickleScan) -> Iterator[ImportedGlobal]:
    """Disallowed globals, each name once (first occurrence)."""
    seen: set[str] = set()
    for g in scan.disallowed:
        key = f"{g.member}|{g.name}"
        if key not in seen:
            seen.add(key)
            yield g
