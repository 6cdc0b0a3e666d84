"""Streaming readers for JSONL dataset shards (plain, ``.gz``, ``.zst``).

A shard is read line by line with constant memory. Each non-empty line yields
``(line_number, record)`` where ``record`` is the decoded JSON object, or a
:class:`Malformed` marker saying why the line is not a usable record of the expected
format. Line numbers are 1-based physical lines, so they match what an editor shows;
empty lines (nothing, or only ``\\r``) are skipped, exactly as
:class:`ftpolicy.hashing.LineCounter` skips them when it counts records.

>>> for line, rec in read_records("data/train.jsonl.zst", "chat"):   # doctest: +SKIP
...     if isinstance(rec, Malformed):
...         print(f"line {line}: {rec.reason}")

Record formats and the fields they require:

* ``chat``: ``messages``, a non-empty list of ``{"role": str, "content": str, ...}``
* ``instruction``: ``instruction`` and ``output`` text, optional ``input`` text
* ``preference``: ``prompt``, ``chosen`` and ``rejected``, each text or a message list
* ``text``: ``text``
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from ftpolicy.errors import UsageError

RECORD_FORMATS = ("chat", "instruction", "preference", "text")

_READ_BUFFER = 1 << 20
MAX_LINE_BYTES = 64 << 20  # a longer "line" is reported malformed, never held whole
_EXCERPT = 80


@dataclass(frozen=True)
class Malformed:
    """A line that is not a usable record: why, and the start of what it held."""

    reason: str
    excerpt: str


Record = dict[str, Any]


@contextmanager
def open_shard(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a shard for reading its decompressed bytes, by extension (.gz, .zst, plain)."""
    p = Path(path)
    name = p.name.lower()
    try:
        raw = open(p, "rb")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", code="file.not-found") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a shard file") from None
    try:
        if name.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield cast(IO[bytes], gz)
        elif name.endswith(".zst"):
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            with io.BufferedReader(reader, _READ_BUFFER) as buffered:
                yield buffered
        elif name.endswith(".parquet"):
            raise UsageError(
                f"{path}: Parquet shards are read with read_records(), not as lines",
                code="format.unsupported",
            )
        else:
            yield raw
    finally:
        raw.close()


def _excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _messages_problem(value: Any, field: str) -> str | None:
    if not isinstance(value, list) or not value:
        return f"'{field}' must be a non-empty list of messages"
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            return f"'{field}[{i}]' must be an object with 'role' and 'content'"
        if not isinstance(m.get("role"), str):
            return f"'{field}[{i}].role' must be text"
        content = m.get("content")
        if not (content is None or isinstance(content, str | list)):
            return f"'{field}[{i}].content' must be text (or a list of parts)"
    return None


def record_problem(record: Any, record_format: str | None) -> str | None:
    """Why ``record`` is not a valid record of ``record_format`` (None: it is valid)."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    if record_format is None:
        return None
    if record_format == "chat":
        if "messages" not in record:
            return "missing field 'messages' (chat format)"
        return _messages_problem(record["messages"], "messages")
    if record_format == "instruction":
        for f in ("instruction", "output"):
            if f not in record:
                return f"missing field '{f}' (instruction format)"
            if not _is_text(record[f]):
                return f"'{f}' must be text"
        if "input" in record and record["input"] is not None and not _is_text(record["input"]):
            return "'input' must be text"
        return None
    if record_format == "preference":
        for f in ("prompt", "chosen", "rejected"):
            if f not in record:
                return f"missing field '{f}' (preference format)"
            v = record[f]
            if not _is_text(v):
                problem = _messages_problem(v, f)
                if problem:
                    return f"'{f}' must be text or a list of messages"
        return None
    if record_format == "text":
        if not _is_text(record.get("text")):
            return "missing text field 'text' (text format)"
        return None
    raise UsageError(
        f"unknown record format {record_format!r}", hint="use one of: " + ", ".join(RECORD_FORMATS)
    )


def _decode_line(line: bytes, record_format: str | None) -> Record | Malformed:
    if not line.strip():
        return Malformed("line holds only whitespace", "")
    try:
        value = json.loads(line)
    except UnicodeDecodeError:
        return Malformed("not UTF-8 text", _excerpt(line))
    except json.JSONDecodeError as exc:
        return Malformed(f"not valid JSON: {exc.msg} at column {exc.colno}", _excerpt(line))
    except RecursionError:
        return Malformed("JSON nested too deeply", _excerpt(line))
    problem = record_problem(value, record_format)
    if problem:
        return Malformed(problem, _excerpt(line))
    assert isinstance(value, dict)
    return value


def iter_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """``(line_number, line)`` for every non-empty line, without its line ending.

    A line longer than :data:`MAX_LINE_BYTES` yields ``None`` instead of its bytes (it is
    skipped in bounded memory).
    """
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES)
        if not line:
            return
        number += 1
        if not line.endswith(b"\n") and len(line) == MAX_LINE_BYTES:
            while True:  # discard the rest of the over-long line
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        if line.endswith(b"\n"):
            line = line[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
            if not line:
                continue
        elif not line:
            continue
        yield number, line


def read_records(
    path: str | os.PathLike[str], record_format: str | None = None
) -> Iterator[tuple[int, Record | Malformed]]:
    """Yield ``(line_number, record or Malformed)`` for each record of a shard.

    ``record_format`` (``chat``, ``instruction``, ``preference``, ``text``) adds the
    format's field checks; ``None`` only requires each line to be a JSON object. Parquet
    shards (pyarrow needed) yield rows numbered from 1.
    """
    if record_format is not None and record_format not in RECORD_FORMATS:
        raise UsageError(
            f"unknown record format {record_format!r}", hint="use one of: " + ", ".join(RECORD_FORMATS)
        )
    if Path(path).name.lower().endswith(".parquet"):
        yield from _read_parquet(Path(path), record_format)
        return
    with open_shard(path) as stream:
        try:
            for number, line in iter_lines(stream):
                if line is None:
                    yield number, Malformed(f"line longer than {MAX_LINE_BYTES} bytes", "")
                else:
                    yield number, _decode_line(line, record_format)
            if Path(path).name.lower().endswith(".zst"):
                from ftpolicy.hashing.stream import zstd_frames_problem

                problem = zstd_frames_problem(Path(path))
                if problem:
                    raise OSError(problem)
        except (OSError, EOFError) as exc:
            from ftpolicy.hashing import HashingError

            raise HashingError(
                f"{path}: could not decompress: {exc}", hint="the shard is truncated or corrupt"
            ) from None
        except Exception as exc:
            if type(exc).__name__ == "ZstdError":
                from ftpolicy.hashing import HashingError

                raise HashingError(
                    f"{path}: could not decompress: {exc}", hint="the shard is truncated or corrupt"
                ) from None
            raise


def _read_parquet(path: Path, record_format: str | None) -> Iterator[tuple[int, Record | Malformed]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            f"{path}: reading Parquet needs pyarrow, which is not installed",
            hint="install the extra: pip install 'ftpolicy[parquet]'",
            code="dependency.missing",
        ) from None
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            problem = record_problem(row, record_format)
            yield number, (Malformed(problem, _excerpt(json.dumps(row, default=str))) if problem else row)
