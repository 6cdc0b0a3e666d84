"""Streaming record readers: formats, malformed markers, line numbers, compression."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

from ftpolicy.datasets.records import Malformed, read_records, record_problem
from ftpolicy.errors import UsageError
from ftpolicy.hashing import HashingError, hash_file

CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
INSTRUCTION = {"instruction": "Summarise", "input": "long text", "output": "short"}
PREFERENCE = {"prompt": "Pick one", "chosen": "A", "rejected": "B"}


def lines(*items: object) -> bytes:
    return b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in items)


def test_chat_records_with_line_numbers_and_malformed_markers(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_bytes(
        lines(
            CHAT,
            b"",  # blank line: skipped, but still counts as a physical line
            b"{not json",
            [1, 2],
            {"messages": []},
            {"messages": [{"role": "user", "content": 5}]},
            {"prompt": "wrong format"},
            b"   ",
            b"\xff\xfe",
            {"id": 7, **CHAT},
        )
        + b"\r\n"  # a blank CRLF line
    )
    got = list(read_records(path, "chat"))
    assert [n for n, _ in got] == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    assert got[0][1] == CHAT
    assert got[-1][1] == {"id": 7, **CHAT}
    reasons = [r.reason for _, r in got if isinstance(r, Malformed)]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1] == "expected a JSON object, found list"
    assert reasons[2] == "'messages' must be a non-empty list of messages"
    assert reasons[3] == "'messages[0].content' must be text (or a list of parts)"
    assert reasons[4] == "missing field 'messages' (chat format)"
    assert reasons[5] == "line holds only whitespace"
    assert reasons[6] in ("not UTF-8 text", "not valid JSON: Expecting value at column 1")
    # The hash pass counts exactly the lines the reader yields.
    assert hash_file(path).records == len(got)


@pytest.mark.parametrize(
    ("fmt", "good", "bad", "reason"),
    [
        ("instruction", INSTRUCTION, {"instruction": "x"}, "missing field 'output' (instruction format)"),
        (
            "instruction",
            {"instruction": "x", "output": "y"},
            {**INSTRUCTION, "input": 3},
            "'input' must be text",
        ),
        (
            "preference",
            PREFERENCE,
            {"prompt": "p", "chosen": "a"},
            "missing field 'rejected' (preference format)",
        ),
        (
            "preference",
            {**PREFERENCE, "chosen": CHAT["messages"]},
            {**PREFERENCE, "chosen": 5},
            "'chosen' must be",
        ),
        ("text", {"text": "plain"}, {"text": 1}, "missing text field 'text' (text format)"),
        (None, {"anything": 1}, "a string", "expected a JSON object, found str"),
    ],
)
def test_formats(tmp_path: Path, fmt: str | None, good: dict[str, object], bad: object, reason: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(lines(good, bad))
    (n1, r1), (n2, r2) = read_records(path, fmt)
    assert (n1, r1) == (1, good)
    assert n2 == 2 and isinstance(r2, Malformed) and r2.reason.startswith(reason)
    assert record_problem(good, fmt) is None


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".jsonl"])
def test_compressed_shards_read_the_same(tmp_path: Path, suffix: str) -> None:
    data = lines(*({"id": i, **CHAT} for i in range(500)))
    path = tmp_path / f"train{suffix}"
    if suffix == ".jsonl.gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".jsonl.zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    got = list(read_records(path, "chat"))
    assert [r["id"] for _, r in got if not isinstance(r, Malformed)] == list(range(500))
    assert hash_file(path).records == 500


def test_truncated_zstd_shard_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(lines(*([CHAT] * 2000)))[:-7])
    with pytest.raises(HashingError, match=r"cut\.jsonl\.zst"):
        list(read_records(path, "chat"))


def test_unknown_format_and_missing_file_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(CHAT))
    with pytest.raises(UsageError, match="unknown record format"):
        list(read_records(path, "audio"))
    with pytest.raises(UsageError, match="no such file"):
        list(read_records(tmp_path / "missing.jsonl"))


def test_parquet_rows_are_records(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"instruction": ["a", "b"], "output": ["x", None]}), path)
    (n1, r1), (n2, r2) = read_records(path, "instruction")
    assert (n1, r1) == (1, {"instruction": "a", "output": "x"})
    assert n2 == 2 and isinstance(r2, Malformed) and r2.reason == "'output' must be text"
    assert hash_file(path).records == 2
