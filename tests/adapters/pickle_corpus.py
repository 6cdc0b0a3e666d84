"""A corpus of malicious and genuine pickle files, written byte by byte (never unpickled).

Each payload would run a command when loaded (``touch MARKER``); the tests and the
benchmark only ever *scan* them. Builders return the raw bytes; :func:`write_corpus`
writes them into a folder and returns ``{file name: expected verdict}``.

The payload styles cover the ways a pickle reaches code: ``GLOBAL`` (protocol 0-2),
``STACK_GLOBAL`` with string operands (protocol 4-5) and through the memo, ``INST``,
the copyreg extension registry, an indirect route to ``os`` through
``importlib.import_module`` + ``operator.methodcaller`` (missed by denylists), nested
``pickle.loads``, a torch zip archive whose ``data.pkl`` carries the payload, and the
legacy torch format of several pickles in a row.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path


def _sbu(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _binunicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


class _Reduce:
    """An object whose pickle calls ``os.system(cmd)`` when loaded (classic ``__reduce__``)."""

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (self.cmd,))


def reduce_os_system(cmd: str, protocol: int = 2) -> bytes:
    """``__reduce__`` -> ``posix.system`` (pickle.dumps writes it; dumping runs nothing)."""
    return pickle.dumps(_Reduce(cmd), protocol=protocol)


def proto0_exec(cmd: str) -> bytes:
    """Protocol 0 text: ``builtins.exec("import os; os.system(...)")``."""
    code = f"import os; os.system({cmd!r})"
    return b"cbuiltins\nexec\n(V" + code.encode("raw_unicode_escape") + b"\ntR."


def stack_global_eval(cmd: str) -> bytes:
    """Protocol 4 ``STACK_GLOBAL`` of ``builtins.eval`` with string operands."""
    expr = f"__import__('os').system({cmd!r})"
    body = _sbu("builtins") + _sbu("eval") + b"\x93" + _sbu(expr) + b"\x85R."
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body


def memo_stack_global(cmd: str) -> bytes:
    """Module and name memoised first, fetched with ``BINGET`` right before ``STACK_GLOBAL``."""
    body = (
        _sbu("posix")
        + b"\x94"  # MEMOIZE -> 0
        + _sbu("system")
        + b"\x94"  # MEMOIZE -> 1
        + b"0"  # POP
        + b"0"  # POP
        + b"h\x00"  # BINGET 0
        + b"h\x01"  # BINGET 1
        + b"\x93"
        + _sbu(cmd)
        + b"\x85R."
    )
    return b"\x80\x05\x95" + struct.pack("<Q", len(body)) + body


def indirect_importlib(cmd: str) -> bytes:
    """``operator.methodcaller("system", cmd)(importlib.import_module("os"))``: no ``os`` global."""
    return (
        b"\x80\x02"
        + b"coperator\nmethodcaller\n"
        + _binunicode("system")
        + _binunicode(cmd)
        + b"\x86R"  # methodcaller("system", cmd)
        + b"cimportlib\nimport_module\n"
        + _binunicode("os")
        + b"\x85R"  # import_module("os")
        + b"\x85R."  # caller(os)
    )


def inst_subprocess(cmd: str) -> bytes:
    """Protocol 0 ``INST subprocess Popen`` with an argument list."""
    return b"(](V/bin/sh\naV-c\naV" + cmd.encode() + b"\naisubprocess\nPopen\n."


def getattr_import(cmd: str) -> bytes:
    """``getattr(__import__("os"), "system")(cmd)`` through builtins only."""
    return (
        b"\x80\x02cbuiltins\ngetattr\n"
        + b"cbuiltins\n__import__\n"
        + _binunicode("os")
        + b"\x85R"
        + _binunicode("system")
        + b"\x86R"
        + _binunicode(cmd)
        + b"\x85R."
    )


def nested_pickle(cmd: str) -> bytes:
    """``pickle.loads(<inner payload>)``: the dangerous global sits inside a bytes operand."""
    inner = reduce_os_system(cmd)
    return b"\x80\x03cpickle\nloads\nC" + bytes([len(inner)]) + inner + b"\x85R."


def copyreg_extension(cmd: str) -> bytes:
    """``EXT1 0xf0``: a global looked up in copyreg's extension registry at load time."""
    del cmd
    return b"\x80\x02\x82\xf0)R."


def runpy_code(cmd: str) -> bytes:
    """``runpy._run_code`` (compiles and runs source)."""
    src = f"import os; os.system({cmd!r})"
    return b"\x80\x02crunpy\n_run_code\n" + _binunicode(src) + b"}\x86R."


def torch_zip(payload: bytes, name: str = "archive") -> bytes:
    """A torch-style zip (``<name>/data.pkl``, ``version``, one storage) around ``payload``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}/data.pkl", payload)
        zf.writestr(f"{name}/byteorder", "little")
        zf.writestr(f"{name}/data/0", b"\x00" * 16)
        zf.writestr(f"{name}/version", "3\n")
    return buf.getvalue()


def legacy_sequence(cmd: str) -> bytes:
    """Legacy torch format: a benign magic-number pickle, then the payload, then raw bytes."""
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    return magic + pickle.dumps(1001, protocol=2) + reduce_os_system(cmd) + b"\x00\x01raw storage"


def genuine_ordered_dict() -> bytes:
    """What a weights container needs and nothing more: an ``OrderedDict`` of plain values."""
    return pickle.dumps(OrderedDict([("a", 1), ("b", [1.0, 2.0])]), protocol=2)


def genuine_torch_like() -> bytes:
    """Hand-written opcodes of a torch state dict: OrderedDict + _rebuild_tensor_v2 + FloatStorage."""
    return (
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01"
        + _binunicode("w")
        + b"ctorch._utils\n_rebuild_tensor_v2\nq\x02"
        + b"((X\x07\x00\x00\x00storageq\x03ctorch\nFloatStorage\nq\x04"
        + b"X\x01\x00\x00\x000q\x05X\x03\x00\x00\x00cpuq\x06K\x04tq\x07Q"
        + b"K\x00K\x02K\x02\x86q\x08K\x02K\x01\x86q\t\x89ccollections\nOrderedDict\nq\n)Rq\x0btq\x0cRq\r"
        + b"s."
    )


MALICIOUS = {
    "reduce_os_system.pkl": lambda c: reduce_os_system(c),
    "reduce_os_system_p0.pkl": lambda c: reduce_os_system(c, protocol=0),
    "proto0_exec.pkl": proto0_exec,
    "stack_global_eval.pt": stack_global_eval,
    "memo_stack_global.pkl": memo_stack_global,
    "indirect_importlib.bin": indirect_importlib,
    "inst_subprocess.pkl": inst_subprocess,
    "getattr_import.pth": getattr_import,
    "nested_pickle.pkl": nested_pickle,
    "copyreg_extension.pkl": copyreg_extension,
    "runpy_code.ckpt": runpy_code,
    "torch_zip_payload.bin": lambda c: torch_zip(reduce_os_system(c)),
    "torch_zip_indirect.bin": lambda c: torch_zip(indirect_importlib(c)),
    "legacy_sequence.bin": legacy_sequence,
}
GENUINE = {
    "genuine_ordered_dict.pkl": lambda c: genuine_ordered_dict(),
    "genuine_torch_like.pt": lambda c: genuine_torch_like(),
    "genuine_torch_zip.bin": lambda c: torch_zip(genuine_torch_like()),
}


def write_corpus(folder: Path, marker: Path) -> dict[str, bool]:
    """Write every payload (each would ``touch marker``) and genuine file; name -> is malicious."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = f"touch {marker}"
    out: dict[str, bool] = {}
    for name, build in MALICIOUS.items():
        (folder / name).write_bytes(build(cmd))
        out[name] = True
    for name, build in GENUINE.items():
        (folder / name).write_bytes(build(cmd))
        out[name] = False
    return out
