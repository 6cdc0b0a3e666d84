"""Readers: training files to :class:`~ftpolicy.scan.dataset.interface.Record` values.

Supported containers: ``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst`` (any ``.json``/``.ndjson``
name is read as JSONL too) and ``.parquet`` (needs the optional ``pyarrow`` extra).
Supported record shapes, detected per record:

* chat: ``{"messages": [{"role": ..., "content": ...}, ...]}`` (content may be a string or
  a list of ``{"type": "text", "text": ...}`` parts); ShareGPT ``conversations`` with
  ``from``/``value`` is accepted too;
* instruction: ``instruction`` / ``input`` (prompt) and ``output`` / ``response`` /
  ``completion`` (response);
* preference: ``prompt`` with ``chosen`` / ``rejected`` (strings or message lists);
* plain text: ``{"text": ...}`` (treated as response: the model trains on all of it).

A line that cannot be read is never fatal: it becomes a ``malformed/...`` finding with
its line number (invalid UTF-8, binary data, invalid JSON, an unknown shape, or a line
longer than the cap, which is skipped without being held in memory) and reading goes on.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Any

from ftpolicy.errors import UsageError
from ftpolicy.report import Finding
from ftpolicy.scan.dataset.interface import MALFORMED, Record, TextField
from ftpolicy.scan.dataset.native import checked

try:  # orjson is a declared dependency; the fallback keeps a broken install usable
    import orjson

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

    _FAST_LOADS: Any = orjson.loads

    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover

    def _loads(data: bytes) -> Any:
        return json.loads(data.decode("utf-8"))

    _FAST_LOADS = _loads

    _JSONError = (ValueError,)


#: Lines longer than this are reported (``malformed/line-too-long``) and skipped.
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024

FORMATS = ("jsonl", "jsonl.gz", "jsonl.zst", "parquet")

PROMPT_ROLES = frozenset(
    {"user", "system", "tool", "function", "ipython", "developer", "human", "observation"}
)
RESPONSE_ROLES = frozenset({"assistant", "model", "gpt", "bot", "chatbot"})


def detect_format(path: str) -> str:
    """The container format from the file name (``jsonl``, ``jsonl.gz``, ``jsonl.zst``, ``parquet``)."""
    name = path.lower()
    if name.endswith((".gz", ".gzip")):
        return "jsonl.gz"
    if name.endswith((".zst", ".zstd")):
        return "jsonl.zst"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return "jsonl"


@dataclass(frozen=True)
class Unit:
    """A slice of work: a whole file, or a byte range of a plain JSONL file.

    ``start`` is aligned to the beginning of a line and ``first_line`` is the 1-based
    number of that line (newlines before ``start`` plus one). ``end`` is ``None`` for
    "to the end of the file". ``display`` is the file name used in findings.
    """

    path: str
    display: str
    fmt: str
    start: int = 0
    end: int | None = None
    first_line: int = 1


def open_decompressed(path: str, fmt: str) -> IO[bytes]:
    """A binary stream of the decompressed bytes of a JSONL file."""
    if fmt == "jsonl":
        return open(path, "rb", buffering=1 << 20)
    if fmt == "jsonl.gz":
        return io.BufferedReader(gzip.GzipFile(path, "rb"), buffer_size=1 << 20)
    if fmt == "jsonl.zst":
        import zstandard

        raw = open(path, "rb")  # noqa: SIM115 - closed by the reader (closefd)
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)
    raise UsageError(f"{path}: cannot read format {fmt!r} as JSONL")


def split_units(path: str, display: str, parts: int, min_bytes: int = 8 * 1024 * 1024) -> list[Unit]:
    """Split a plain JSONL file into up to ``parts`` newline-aligned byte ranges.

    Line numbers stay exact: the newlines before each range start are counted (a fast
    byte count, no parsing). Compressed files and Parquet are one unit each.
    """
    fmt = detect_format(path)
    size = os.path.getsize(path)
    if fmt != "jsonl" or parts <= 1 or size < 2 * min_bytes:
        return [Unit(path, display, fmt)]
    parts = min(parts, max(1, size // min_bytes))
    boundaries = [0]
    with open(path, "rb") as f:
        for i in range(1, parts):
            target = size * i // parts
            if target <= boundaries[-1]:
                continue
            f.seek(target - 1)
            # advance to just after the next newline (lines may be long: read in chunks)
            pos = target - 1
            while True:
                chunk = f.read(1 << 16)
                if not chunk:
                    pos = size
                    break
                idx = chunk.find(b"\n")
                if idx >= 0:
                    pos += idx + 1
                    break
                pos += len(chunk)
            if boundaries[-1] < pos < size:
                boundaries.append(pos)
        # count newlines before each boundary
        f.seek(0)
        lines_before = [0]
        count = 0
        pos = 0
        for b in boundaries[1:]:
            while pos < b:
                chunk = f.read(min(1 << 20, b - pos))
                if not chunk:
                    break
                count += chunk.count(b"\n")
                pos += len(chunk)
            lines_before.append(count)
    units = []
    for i, start in enumerate(boundaries):
        end = boundaries[i + 1] if i + 1 < len(boundaries) else None
        units.append(Unit(path, display, fmt, start=start, end=end, first_line=lines_before[i] + 1))
    return units


def _malformed(unit: Unit, line: int, rule: str, message: str, hint: str, excerpt: str = "") -> Finding:
    return Finding(
        rule_id=f"{MALFORMED}/{rule}",
        message=message,
        level="error",
        file=unit.display,
        line=line,
        severity="high",
        category=MALFORMED,
        hint=hint,
        properties={"field": "", "excerpt": excerpt},
    )


def _preview(raw: bytes, width: int = 60) -> str:
    text = raw[:width].decode("utf-8", errors="backslashreplace")
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return out + ("…" if len(raw) > width else "")


def iter_records(unit: Unit, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Record | Finding]:
    """Records (or ``malformed`` findings) of one unit, in line order."""
    for batch in iter_batches(unit, max_line_bytes):
        yield from batch


#: :func:`iter_batches` gives at most this many records per batch ...
BATCH_RECORDS = 256
#: ... and stops adding lines once they hold this many bytes (memory stays bounded)
BATCH_BYTES = 4 << 20


def iter_batches(
    unit: Unit,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    batch_records: int | None = None,
    batch_bytes: int | None = None,
) -> Iterator[list[Record | Finding]]:
    """:func:`iter_records` in consecutive lists of at most ``batch_records`` items whose
    lines hold at most ``batch_bytes`` bytes (or one line, when a line is longer)."""
    most = batch_records or BATCH_RECORDS
    budget = batch_bytes or BATCH_BYTES
    if unit.fmt == "parquet":
        batch: list[Record | Finding] = []
        for row in _iter_parquet(unit):
            batch.append(row)
            if len(batch) >= most:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    stream = open_decompressed(unit.path, unit.fmt)
    # plain chat lines are read in C (the same Record parse_line gives; checked at import)
    chat_record = _NATIVE.chat_record if _NATIVE is not None else None
    loads = _FAST_LOADS
    display = unit.display
    with stream:
        if unit.start:
            stream.seek(unit.start)
        pos = unit.start
        end = unit.end
        line = unit.first_line - 1
        readline = stream.readline
        cap = max_line_bytes
        batch = []
        size = 0
        while end is None or pos < end:
            raw = readline(cap + 1)
            if not raw:
                break
            line += 1
            n = len(raw)
            pos += n
            if n > cap and not raw.endswith(b"\n"):
                total = n
                while True:  # skip the rest of the line without holding it
                    rest = readline(1 << 20)
                    if not rest:
                        break
                    total += len(rest)
                    pos += len(rest)
                    if rest.endswith(b"\n"):
                        break
                batch.append(
                    _malformed(
                        unit,
                        line,
                        "line-too-long",
                        f"line is {total} bytes, longer than the {cap}-byte cap; not scanned",
                        "split the record, or raise the cap with --max-line-bytes if the record is genuine",
                        _preview(raw),
                    )
                )
            else:
                stripped = raw.strip()
                if not stripped:
                    continue
                item = None
                if chat_record is not None:
                    item = chat_record(stripped, loads, TextField, Record, display, line)
                batch.append(item if item is not None else parse_line(stripped, unit, line))
            size += n
            if len(batch) >= most or size >= budget:
                yield batch
                batch = []
                size = 0
        if batch:
            yield batch


def parse_line(raw: bytes, unit: Unit, line: int) -> Record | Finding:
    """One JSONL line to a record, or a ``malformed`` finding."""
    if b"\x00" in raw:
        return _malformed(
            unit, line, "binary", "line contains binary data (NUL bytes)", "remove the line", _preview(raw)
        )
    try:
        obj = _loads(raw)
    except _JSONError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return _malformed(
                unit,
                line,
                "invalid-utf8",
                f"line is not valid UTF-8 (byte {uexc.start + 1})",
                "re-encode the file as UTF-8",
                _preview(raw),
            )
        return _malformed(
            unit,
            line,
            "invalid-json",
            f"line is not valid JSON: {str(exc).splitlines()[0][:120]}",
            "fix or remove the line (one JSON object per line)",
            _preview(raw),
        )
    fields, problem = record_fields(obj)
    if problem is not None:
        return _malformed(
            unit,
            line,
            "wrong-schema",
            f"record has an unsupported shape: {problem}",
            "use chat (messages), instruction (instruction/input/output), preference "
            "(prompt/chosen/rejected) or text records",
            _preview(raw),
        )
    return Record(file=unit.display, line=line, fields=tuple(fields), key=_record_key(obj))


def _record_key(obj: Any) -> str | None:
    """A record's own identifier: its ``id`` when that is a string or an integer."""
    key = obj.get("id") if isinstance(obj, dict) else None
    return str(key) if isinstance(key, str | int) and not isinstance(key, bool) else None


def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif part.get("type") not in (None, "text") or "text" not in part:
                    continue  # images and other non-text parts carry no text to scan
                else:
                    return None
            else:
                return None
        return "\n".join(parts)
    return None


_MISSING = object()
# role as written -> side (filled as roles are met; a handful of distinct values)
_SIDES: dict[str, str] = {}
# (base, index, content key) -> field path (a few distinct message positions)
_PATHS: dict[tuple[str, int, str], str] = {}


def _path(base: str, i: int, key: str) -> str:
    path = _PATHS.get((base, i, key))
    if path is None:
        path = f"{base}[{i}].{key}"
        if len(_PATHS) < 4096:
            _PATHS[(base, i, key)] = path
    return path


def _messages(msgs: Any, base: str, out: list[TextField], default_role: str | None = None) -> str | None:
    if not isinstance(msgs, list):
        return f"{base} is not a list"
    for i, msg in enumerate(msgs):
        if type(msg) is not dict and not isinstance(msg, dict):
            return f"{base}[{i}] is not an object"
        role = msg.get("role", _MISSING)
        if role is _MISSING:
            role = msg.get("from")
        content = msg.get("content", _MISSING)
        if content is not _MISSING or "value" not in msg:
            content_key = "content"
            text = (
                content if type(content) is str else _content_text(None if content is _MISSING else content)
            )
        else:
            content_key = "value"
            text = _content_text(msg.get("value"))
        if text is None:
            return f"{base}[{i}].{content_key} is not text"
        if type(role) is str or isinstance(role, str):
            side = _SIDES.get(role)
            if side is None:
                side = "response" if role.lower() in RESPONSE_ROLES else "prompt"
                if len(_SIDES) < 256:
                    _SIDES[role] = side
        else:
            if default_role is None:
                return f"{base}[{i}] has no role"
            side = default_role
        out.append(TextField(_path(base, i, content_key), side, text))
        calls = msg.get("tool_calls")
        if isinstance(calls, list):
            for j, call in enumerate(calls):
                fn = call.get("function") if isinstance(call, dict) else None
                args = fn.get("arguments") if isinstance(fn, dict) else None
                if isinstance(args, str):
                    out.append(TextField(f"{base}[{i}].tool_calls[{j}].function.arguments", "response", args))
    return None


def _side(obj: dict[str, Any], key: str, role: str, out: list[TextField]) -> str | None:
    value = obj[key]
    if isinstance(value, str):
        out.append(TextField(key, role, value))
        return None
    if value is None:
        return None
    if isinstance(value, list):
        return _messages(value, key, out, default_role=role)
    return f"{key} is not text"


def record_fields(obj: Any) -> tuple[list[TextField], str | None]:
    """The text fields of a decoded record and, when its shape is unknown, why."""
    if _NATIVE is not None:  # plain chat records, read in C (the same fields; checked at import)
        fast: list[TextField] | None = _NATIVE.chat_fields(obj, TextField)
        if fast is not None:
            return fast, None
    return _record_fields_py(obj)


def _record_fields_py(obj: Any) -> tuple[list[TextField], str | None]:
    """:func:`record_fields` in Python (every shape)."""
    if not isinstance(obj, dict):
        return [], f"top level is a JSON {type(obj).__name__}, not an object"
    out: list[TextField] = []
    if "messages" in obj or "conversations" in obj:
        key = "messages" if "messages" in obj else "conversations"
        problem = _messages(obj[key], key, out)
        return out, problem
    if "chosen" in obj or "rejected" in obj:
        for key, role in (("prompt", "prompt"), ("chosen", "response"), ("rejected", "response")):
            if key in obj:
                problem = _side(obj, key, role, out)
                if problem:
                    return out, problem
        return out, None
    known = False
    for key, role in (
        ("system", "prompt"),
        ("instruction", "prompt"),
        ("prompt", "prompt"),
        ("question", "prompt"),
        ("input", "prompt"),
        ("context", "prompt"),
        ("output", "response"),
        ("response", "response"),
        ("completion", "response"),
        ("answer", "response"),
        ("text", "response"),
        ("content", "response"),
    ):
        if key in obj:
            known = True
            problem = _side(obj, key, role, out)
            if problem:
                return out, problem
    if not known:
        keys = ", ".join(sorted(obj)[:6]) or "no keys"
        return [], f"no text fields (keys: {keys})"
    return out, None


_NATIVE_SAMPLES: tuple[Any, ...] = (
    {"messages": []},
    {"messages": [{"role": "system", "content": "a"}, {"role": "USER", "content": ""}]},
    {"messages": [{"role": "Assistant", "content": "b"}, {"role": "gpt", "content": "c", "x": 1}]},
    {"messages": [{"role": "chatbot", "content": "d"}, {"role": "assistants", "content": "e"}]},
)


def _agrees(mod: ModuleType) -> bool:
    if any(mod.chat_fields(obj, TextField) != _record_fields_py(obj)[0] for obj in _NATIVE_SAMPLES):
        return False
    other: tuple[Any, ...] = (
        {"messages": [{"role": 1, "content": "x"}]},
        {"conversations": []},
        [],
        {"text": "x"},
    )
    if not all(mod.chat_fields(obj, TextField) is None for obj in other):
        return False
    unit = Unit("sample.jsonl", "sample.jsonl", "jsonl")
    for i, key in enumerate(["A-1", 7, True, 1.5, None, ["x"]]):
        obj = {"id": key, **_NATIVE_SAMPLES[1]}
        want = Record(unit.display, i + 1, tuple(_record_fields_py(obj)[0]), _record_key(obj))
        got = mod.chat_record(json.dumps(obj).encode(), _FAST_LOADS, TextField, Record, unit.display, i + 1)
        if got != want:
            return False
    return all(
        mod.chat_record(raw, _FAST_LOADS, TextField, Record, unit.display, 1) is None
        for raw in (b'{"text": "x"}', b"[1]", b"{not json", b'{"messages": []}\x00')
    )


_NATIVE: Any = checked(_agrees)


def _iter_parquet(unit: Unit) -> Iterator[Record | Finding]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise UsageError(
            f"{unit.display}: reading Parquet needs pyarrow",
            hint="install the extra: pip install 'ftpolicy[parquet]'",
        ) from exc
    row = 0
    pf = pq.ParquetFile(unit.path)
    for batch in pf.iter_batches(batch_size=2048):
        for obj in batch.to_pylist():
            row += 1
            fields, problem = record_fields(obj)
            if problem is not None:
                yield _malformed(
                    unit,
                    row,
                    "wrong-schema",
                    f"row has an unsupported shape: {problem}",
                    "use chat, instruction, preference or text columns",
                )
                continue
            yield Record(unit.display, row, tuple(fields), _record_key(obj))
