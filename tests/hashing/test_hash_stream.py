"""Streaming SHA-256 with record counts: checked against hashlib and a reference line count."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import random
import threading
from pathlib import Path

import pytest
import zstandard

from ftpolicy.errors import UsageError
from ftpolicy.hashing import (
    CHUNK_SIZE,
    Digest,
    FileDigest,
    HashingError,
    LineCounter,
    hash_file,
    hash_files,
    shard_format,
)
from ftpolicy.hashing import stream as stream_module


def reference_count(data: bytes) -> int:
    """Non-empty lines: anything but '' or '\\r' between newlines."""
    return sum(1 for line in data.split(b"\n") if line not in (b"", b"\r"))


def jsonl(n: int, width: int = 40) -> bytes:
    return b"".join(b'{"id": %d, "text": "%s"}\n' % (i, b"x" * (i % width)) for i in range(n))


@pytest.mark.parametrize(
    "size", [0, 1, 4095, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]
)
def test_sha256_and_size_match_hashlib(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    d = hash_file(path)
    assert d == FileDigest(path, hashlib.sha256(data).hexdigest(), size, None, None)
    assert d.digest == "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 4096, CHUNK_SIZE])
def test_jsonl_count_and_digest_at_every_chunk_size(tmp_path: Path, chunk_size: int) -> None:
    data = jsonl(300) + b"\n\r\n  \n" + b'{"last": true}'  # blank, CRLF blank, spaces, no final newline
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    d = hash_file(path, chunk_size=chunk_size)
    assert d.records == 300 + 2  # the line of spaces counts (readers report it as malformed)
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.bytes == len(data)
    assert d.format == "jsonl"


def test_line_counter_matches_reference_on_random_streams() -> None:
    rng = random.Random(20261128)
    alphabet = [b"\n", b"\r", b"a", b" ", b"{}"]
    for _ in range(400):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        counter = LineCounter()
        pos = 0
        while pos < len(data):  # feed in random pieces, some through a larger buffer with an end
            step = rng.randrange(1, 9)
            piece = data[pos : pos + step]
            if rng.random() < 0.5:
                counter.feed(bytearray(piece) + b"\n\n\n", len(piece))
            else:
                counter.feed(piece)
            pos += step
        assert counter.finish() == reference_count(data), data


def test_gzip_counts_decompressed_lines_and_hashes_stored_bytes(tmp_path: Path) -> None:
    part1, part2 = jsonl(1000), jsonl(500) + b"\n\n"
    stored = gzip.compress(part1) + gzip.compress(part2)  # two gzip members
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(stored)
    for chunk_size in (16, CHUNK_SIZE):
        d = hash_file(path, chunk_size=chunk_size)
        assert (d.records, d.bytes, d.format) == (1500, len(stored), "jsonl.gz")
        assert d.sha256 == hashlib.sha256(stored).hexdigest()


def test_zstd_counts_across_frames_and_hashes_stored_bytes(tmp_path: Path) -> None:
    cctx = zstandard.ZstdCompressor(level=3)
    stored = cctx.compress(jsonl(700)) + cctx.compress(jsonl(300)[:-1])  # two frames, no final newline
    path = tmp_path / "train.jsonl.zst"
    path.write_bytes(stored)
    d = hash_file(path)
    assert (d.records, d.bytes, d.format) == (1000, len(stored), "jsonl.zst")
    assert d.sha256 == hashlib.sha256(stored).hexdigest()


def test_zstd_streamed_without_content_size(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl.zst"
    with open(path, "wb") as fh, zstandard.ZstdCompressor().stream_writer(fh) as writer:
        for _ in range(20):
            writer.write(jsonl(100))
    assert hash_file(path).records == 2000


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("bad.jsonl.gz", b"this is not gzip"),
        ("truncated.jsonl.gz", gzip.compress(b'{"a": 1}\n' * 1000, mtime=0)[:-20]),
        ("bad.jsonl.zst", b"this is not zstd either"),
        ("truncated.jsonl.zst", zstandard.ZstdCompressor().compress(b'{"a": 1}\n' * 5000)[:-9]),
    ],
    ids=["bad-gz", "truncated-gz", "bad-zst", "truncated-zst"],
)
def test_corrupt_archives_are_errors_naming_the_file(tmp_path: Path, name: str, payload: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(HashingError) as info:
        hash_file(path, display=f"data/{name}")
    assert info.value.diagnostics().startswith(f"data/{name}: not a valid ")
    assert info.value.exit_code == 1


def test_corrupt_archive_can_still_be_hashed_without_counting(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"not gzip")
    d = hash_file(path, count_records=False)
    assert d.records is None and d.sha256 == hashlib.sha256(b"not gzip").hexdigest()


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path) -> None:
    if importlib.util.find_spec("pyarrow") is not None:
        pytest.skip("pyarrow is installed")
    path = tmp_path / "train.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(UsageError) as info:
        hash_file(path)
    assert info.value.code == "dependency.missing"
    assert "ftpolicy[parquet]" in (info.value.hint or "")


def test_parquet_rows_from_metadata(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"id": list(range(123)), "text": ["t"] * 123}), path)
    d = hash_file(path)
    assert (d.records, d.format) == (123, "parquet")
    assert d.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hash_files_keeps_order_and_reports_progress(tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        p = tmp_path / f"s{i}.jsonl"
        p.write_bytes(jsonl(100 * (i + 1)))
        paths.append(p)
    seen: list[int] = []
    lock = threading.Lock()

    def on_bytes(n: int) -> None:
        with lock:
            seen.append(n)

    for jobs in (1, 2, 8):
        seen.clear()
        digests = hash_files(paths, jobs=jobs, on_bytes=on_bytes, chunk_size=1024)
        assert [d.path for d in digests] == paths
        assert [d.records for d in digests] == [100 * (i + 1) for i in range(6)]
        assert [d.sha256 for d in digests] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
        assert sum(seen) == sum(p.stat().st_size for p in paths)


def test_missing_file_and_bad_jobs_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_bytes(b"{}\n")
    with pytest.raises(UsageError, match=r"data/missing\.jsonl: no such file"):
        hash_files([tmp_path / "ok.jsonl", tmp_path / "missing.jsonl"], displays=["ok", "data/missing.jsonl"])
    with pytest.raises(UsageError, match="is a folder"):
        hash_file(tmp_path)
    with pytest.raises(UsageError, match="--jobs"):
        hash_files([tmp_path / "ok.jsonl"], jobs=0)
    assert hash_files([]) == []


def test_shard_format_by_extension() -> None:
    assert [
        shard_format(n) for n in ("a.jsonl", "A.JSONL.GZ", "b.jsonl.zst", "c.parquet", "d.json", "e.gz")
    ] == [
        "jsonl",
        "jsonl.gz",
        "jsonl.zst",
        "parquet",
        None,
        None,
    ]


def test_digest_forms() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert str(Digest.of_bytes(b"")) == f"sha256:{empty}"
    assert Digest.parse(f"sha256:{empty}") == Digest.sha256(empty)
    for bad in ("sha256:XYZ", empty, "md5:" + "0" * 32, "sha256:" + "A" * 64):
        with pytest.raises(UsageError):
            Digest.parse(bad)


@pytest.mark.parametrize("overlap", [True, False])
def test_counting_inline_or_in_a_helper_thread_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overlap: bool
) -> None:
    import ftpolicy.hashing.stream as stream

    monkeypatch.setattr(stream, "_OVERLAP", overlap)
    paths = []
    for i in range(3):
        p = tmp_path / f"s{i}.jsonl"
        p.write_bytes(jsonl(2000 + i) + b"\n\n")
        paths.append(p)
    for jobs in (1, 3):
        digests = hash_files(paths, jobs=jobs, chunk_size=4096)
        assert [d.records for d in digests] == [2000, 2001, 2002]
        assert [d.sha256 for d in digests] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_zstd_framing_skippable_frames_checksums_and_truncation(tmp_path: Path) -> None:
    data = random.Random(5).randbytes(300_000).hex().encode()  # ~600 kB: several 128 KiB blocks
    body = b"".join(data[i : i + 99] + b"\n" for i in range(0, len(data), 99))
    frame = zstandard.ZstdCompressor(level=1, write_checksum=True).compress(body)
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"meta!"
    path = tmp_path / "framed.jsonl.zst"
    path.write_bytes(skippable + frame + skippable)
    assert hash_file(path).records == body.count(b"\n")
    for cut in (len(skippable) + 3, len(skippable) + len(frame) // 2, len(skippable) + len(frame) - 2):
        path.write_bytes((skippable + frame)[:cut])
        with pytest.raises(HashingError, match=r"not a valid jsonl\.zst"):
            hash_file(path)


def test_process_pool_path_agrees_with_threads_and_reports_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large inputs are hashed in forked processes; results, progress and errors match."""
    rng = random.Random(5)
    paths = []
    for i in range(3):
        p = tmp_path / f"s{i}.jsonl"
        p.write_bytes(b"".join(b'{"i": %d}\n' % rng.randrange(10**6) for _ in range(500 + i)))
        paths.append(p)
    threads = hash_files(paths, jobs=2)
    monkeypatch.setattr(stream_module, "PROCESS_THRESHOLD", 0)
    seen: list[int] = []
    procs = hash_files(paths, jobs=2, on_bytes=seen.append)
    assert [(d.sha256, d.bytes, d.records) for d in procs] == [
        (d.sha256, d.bytes, d.records) for d in threads
    ]
    assert sorted(seen) == sorted(p.stat().st_size for p in paths)
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00not gzip at all")
    with pytest.raises(HashingError) as info:
        hash_files([*paths, bad], jobs=2)
    assert info.value.location is not None and "bad.jsonl.gz" in info.value.location.path


def test_mapped_hashing_counts_like_the_reference(tmp_path: Path) -> None:
    """The memory-mapped path of the hashing workers: same digest and count, any chunk size."""
    rng = random.Random(20261129)
    alphabet = [b"\n", b"\r", b"a", b" ", b'{"k": 1}']
    for i in range(60):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400)))
        path = tmp_path / f"m{i}.jsonl"
        path.write_bytes(data)
        d = hash_file(path, chunk_size=rng.choice([1, 2, 3, 7, 64, 4096]), _mapped=True)
        assert (d.sha256, d.bytes, d.records) == (
            hashlib.sha256(data).hexdigest(),
            len(data),
            reference_count(data),
        )
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert hash_file(empty, _mapped=True).records == 0  # an empty file cannot be mapped: read instead


def _worker_dies(*args: object, **kwargs: object) -> None:
    os._exit(3)


def test_a_dead_hashing_worker_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = []
    for i in range(2):
        p = tmp_path / f"s{i}.jsonl"
        p.write_bytes(b'{"i": 1}\n' * 10)
        paths.append(p)
    monkeypatch.setattr(stream_module, "PROCESS_THRESHOLD", 0)
    monkeypatch.setattr(stream_module, "hash_file", _worker_dies)
    with pytest.raises(HashingError) as info:
        hash_files(paths, jobs=2)
    assert "worker process died" in info.value.message
    assert "--jobs 1" in (info.value.hint or "")
