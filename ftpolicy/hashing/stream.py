"""Streaming SHA-256 of files with byte and record counts, several files in parallel.

Each file is read once, in large chunks, into two reusable buffers (constant memory per
file). SHA-256 runs in the worker thread (hashlib releases the GIL for large buffers)
while a helper thread counts records in the same buffer, so hashing and counting overlap;
files are spread over ``jobs`` worker threads.

Records are counted in the same pass:

* ``.jsonl``: non-empty lines. A line is empty when it holds nothing or only ``\\r``
  (a blank CRLF line); a line of spaces counts, and record readers report it as malformed.
* ``.jsonl.gz`` / ``.jsonl.zst``: the same, on the decompressed stream, while the SHA-256
  and byte count cover the compressed bytes exactly as stored.
* ``.parquet``: rows from the file's metadata (needs the ``parquet`` extra: pyarrow).
* anything else: hashed only (``records`` is ``None``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from ftpolicy.errors import ExitCode, FtpolicyError, Location, UsageError

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough that per-chunk overhead vanishes, small enough for L2
SHARD_FORMATS = ("jsonl", "jsonl.gz", "jsonl.zst", "parquet")

_OVERLAP: bool | None = None  # None: decide by core count (tests and benchmarks may force it)

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just read (from worker threads; must be thread-safe)."""


class HashingError(FtpolicyError):
    """A file could not be read or decoded while hashing it (corrupt archive, I/O error)."""

    code = "hash.unreadable"
    exit_code = ExitCode.VIOLATION


@dataclass(frozen=True)
class FileDigest:
    """SHA-256, size and record count of one file.

    ``sha256`` is bare lower-case hex (as in dataset manifests); use :attr:`digest` for the
    ``sha256:<hex>`` form. ``records`` is ``None`` for files that are not dataset shards.
    """

    path: Path
    sha256: str
    bytes: int
    records: int | None
    format: str | None = None

    @property
    def digest(self) -> str:
        """``sha256:<hex>``."""
        return f"sha256:{self.sha256}"


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def shard_format(path: str | os.PathLike[str]) -> str | None:
    """The dataset shard format a file name implies (``jsonl``, ``jsonl.gz`` ...), or None."""
    name = os.fspath(path).lower()
    for fmt in ("jsonl.gz", "jsonl.zst", "jsonl", "parquet"):
        if name.endswith("." + fmt):
            return fmt
    return None


class LineCounter:
    """Counts non-empty lines of a byte stream fed in chunks of any size.

    Empty means no bytes, or only ``\\r``, between two ``\\n`` (or the stream's ends).

    >>> c = LineCounter(); c.feed(b'{"a": 1}\\n\\n{"b"'); c.feed(b': 2}'); c.finish()
    2
    """

    __slots__ = ("_state", "count")

    # _state: what the unfinished current line holds so far.
    _EMPTY, _CR, _CONTENT = 0, 1, 2

    def __init__(self) -> None:
        self.count = 0
        self._state = self._EMPTY

    def feed(self, buf: Any, end: int | None = None, start: int = 0) -> None:
        """Count lines in ``buf[start:end]`` (``buf`` is not copied; bytes, bytearray or mmap)."""
        if end is None:
            end = len(buf)
        if end <= start:
            return
        find = buf.find
        j = find(b"\n", start, end)
        state = self._state
        if j < 0:  # no line ends here: extend the current line
            if state == self._EMPTY:
                self._state = self._CR if end - start == 1 and buf[start] == 13 else self._CONTENT
            elif state == self._CR:
                self._state = self._CONTENT
            return
        count = self.count
        # The first newline ends the line carried over from the previous chunk.
        k = j - start
        if state == self._CONTENT or (state == self._CR and k > 0) or k > 1 or (k == 1 and buf[start] != 13):
            count += 1
        pos = j + 1
        # Hot loop: memchr per line. A line is non-empty unless it is "" or "\r".
        while True:
            j = find(b"\n", pos, end)
            if j < 0:
                break
            if j - pos > 1 or (j > pos and buf[pos] != 13):
                count += 1
            pos = j + 1
        self.count = count
        tail = end - pos
        if tail == 0:
            self._state = self._EMPTY
        elif tail == 1 and buf[pos] == 13:
            self._state = self._CR
        else:
            self._state = self._CONTENT

    def finish(self) -> int:
        """The total, counting a last line that has no trailing newline."""
        return self.count + (1 if self._state == self._CONTENT else 0)


class _HashingReader(io.RawIOBase):
    """A raw reader that hashes and counts every byte read through it."""

    def __init__(self, fh: io.FileIO, sha: Any, on_bytes: ProgressCallback | None) -> None:
        super().__init__()
        self._fh = fh
        self._sha = sha
        self._on_bytes = on_bytes
        self.nbytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer)
        if n:
            with memoryview(buffer) as view:
                self._sha.update(view[:n])
            self.nbytes += n
            if self._on_bytes is not None:
                self._on_bytes(n)
        return n or 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = CHUNK_SIZE
        buf = bytearray(size)
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    def drain(self, chunk_size: int) -> None:
        """Hash whatever the decompressor did not read (trailing frames, padding)."""
        buf = bytearray(chunk_size)
        while self.readinto(buf):
            pass


def _display(path: Path, display: str | None) -> str:
    return display if display is not None else os.fspath(path)


def _open(path: Path, display: str | None) -> io.FileIO:
    shown = _display(path, display)
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError:
        raise UsageError(f"{shown}: no such file", code="file.not-found") from None
    except IsADirectoryError:
        raise UsageError(
            f"{shown}: is a folder, not a file", hint="pass the shard files themselves"
        ) from None
    except PermissionError:
        raise UsageError(f"{shown}: permission denied", code="file.unreadable") from None


def _hash_plain(
    fh: io.FileIO,
    sha: Any,
    counter: LineCounter | None,
    helper: ThreadPoolExecutor | None,
    chunk_size: int,
    on_bytes: ProgressCallback | None,
) -> int:
    """Read ``fh`` to the end, hashing here and counting lines in ``helper`` (if any).

    The roles are chosen for the GIL: ``sha.update`` releases it for the whole chunk, so
    the helper thread, which needs it for the line count, runs during the hash instead of
    after it. Two buffers alternate; a chunk's count must finish before its buffer is
    read into again and before the next chunk's count starts (counting is ordered).
    """
    bufs = (bytearray(chunk_size), bytearray(chunk_size))
    total = 0
    pending: Future[None] | None = None
    i = 0
    try:
        while True:
            buf = bufs[i]
            n = fh.readinto(buf)
            if pending is not None:
                pending.result()
                pending = None
            if not n:
                break
            total += n
            if counter is not None:
                if helper is not None:
                    pending = helper.submit(counter.feed, buf, n)
                else:
                    counter.feed(buf, n)
            with memoryview(buf) as view:
                sha.update(view[:n] if n < chunk_size else view)
            if on_bytes is not None:
                on_bytes(n)
            i ^= 1
    finally:
        if pending is not None:
            pending.result()
    return total


def _size_if_regular(fh: io.FileIO) -> int | None:
    """The size of ``fh`` now, when it is a regular file (None for pipes, devices, errors)."""
    import stat

    try:
        st = os.fstat(fh.fileno())
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _hash_mapped(fh: io.FileIO, sha: Any, counter: LineCounter | None, chunk_size: int) -> int | None:
    """Hash (and count) a regular file through a read-only memory map, or return None.

    Used by the forked hashing workers only: the data is hashed and counted where the page
    cache holds it, saving the copy into a buffer (about a tenth of the time of hashing alone).
    A file that shrinks while mapped kills the process reading it (SIGBUS), which a worker
    process can afford and :func:`hash_files` reports; the caller's own process never maps.
    Returns None when the file cannot be mapped (empty, not a regular file); the caller then
    reads it the usual way.
    """
    import mmap

    try:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return None
        mm = mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return None
    try:
        if hasattr(mm, "madvise"):
            mm.madvise(mmap.MADV_SEQUENTIAL)
        size = len(mm)
        with memoryview(mm) as view:
            for start in range(0, size, chunk_size):
                end = min(start + chunk_size, size)
                with view[start:end] as piece:
                    sha.update(piece)
                if counter is not None:
                    counter.feed(mm, end, start)
    finally:
        mm.close()
    return size


def _count_decompressed(stream: Any, counter: LineCounter, chunk_size: int) -> None:
    buf = bytearray(chunk_size)
    while True:
        n = stream.readinto(buf)
        if not n:
            return
        counter.feed(buf, n)


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def zstd_frames_problem(path: Path) -> str | None:
    """Why a .zst file is not a sequence of complete frames, or None (RFC 8878 framing only).

    The zstandard decoder stops quietly at the end of a truncated frame; walking the frame
    and block headers (a few seeks per MiB) tells a truncated file from a complete one.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        pos = 0
        while pos < size:
            fh.seek(pos)
            magic = fh.read(4)
            if len(magic) < 4:
                return f"truncated frame header at byte {pos}"
            if magic[1:] == b"\x2a\x4d\x18" and magic[0] & 0xF0 == 0x50:  # skippable frame
                length = fh.read(4)
                if len(length) < 4:
                    return f"truncated skippable frame at byte {pos}"
                pos += 8 + int.from_bytes(length, "little")
                continue
            if magic != _ZSTD_MAGIC:
                return f"no zstd frame at byte {pos}"
            desc = fh.read(1)
            if not desc:
                return f"truncated frame header at byte {pos}"
            d = desc[0]
            single_segment = bool(d & 0x20)
            fcs = (0, 2, 4, 8)[d >> 6] or (1 if single_segment else 0)
            header = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[d & 3] + fcs
            pos += header
            while True:  # blocks
                fh.seek(pos)
                raw = fh.read(3)
                if len(raw) < 3:
                    return f"truncated block header at byte {pos}"
                h = int.from_bytes(raw, "little")
                last, kind, bsize = h & 1, (h >> 1) & 3, h >> 3
                if kind == 3:
                    return f"corrupt block header at byte {pos}"
                pos += 3 + (1 if kind == 1 else bsize)
                if pos > size:
                    return f"truncated block at byte {pos - bsize}"
                if last:
                    break
            if d & 0x04:  # content checksum
                pos += 4
            if pos > size:
                return "truncated frame checksum"
    return None


def _parquet_rows(path: Path, shown: str) -> int:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            f"{shown}: counting Parquet rows needs pyarrow, which is not installed",
            hint="install the extra: pip install 'ftpolicy[parquet]', or convert the shard to JSONL",
            code="dependency.missing",
        ) from None
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise HashingError(f"not a readable Parquet file ({exc})", location=Location(shown)) from None


def hash_file(
    path: str | os.PathLike[str],
    *,
    count_records: bool = True,
    chunk_size: int = CHUNK_SIZE,
    on_bytes: ProgressCallback | None = None,
    display: str | None = None,
    _helper: ThreadPoolExecutor | None = None,
    _overlap: bool = True,
    _mapped: bool = False,
) -> FileDigest:
    """Hash one file (and count its records, see the module docstring).

    ``display`` is how errors name the file (default: the path as given).
    """
    p = Path(path)
    shown = _display(p, display)
    fmt = shard_format(p)
    sha = hashlib.sha256()
    records: int | None = None
    fh = _open(p, display)
    own_helper = None
    try:
        if fmt in (None, "jsonl", "parquet") or not count_records:
            counter = LineCounter() if (fmt == "jsonl" and count_records) else None
            helper = _helper
            if helper is None and counter is not None and _overlap and available_cpus() > 1:
                helper = own_helper = ThreadPoolExecutor(1, thread_name_prefix="ftpolicy-count")
            mapped = _hash_mapped(fh, sha, counter, chunk_size) if _mapped and on_bytes is None else None
            if mapped is not None:
                nbytes = mapped
            else:
                nbytes = _hash_plain(fh, sha, counter, helper, chunk_size, on_bytes)
            if _size_if_regular(fh) not in (None, nbytes):
                raise HashingError(
                    "the file changed while it was being hashed",
                    hint="hash it again once whatever writes it has finished",
                    location=Location(shown),
                )
            if counter is not None:
                records = counter.finish()
        else:
            counter = LineCounter()
            raw = _HashingReader(fh, sha, on_bytes)
            try:
                stream: Any
                if fmt == "jsonl.gz":
                    stream = gzip.GzipFile(fileobj=raw, mode="rb")
                else:
                    import zstandard

                    stream = zstandard.ZstdDecompressor().stream_reader(
                        cast(IO[bytes], raw), read_size=chunk_size, read_across_frames=True, closefd=False
                    )
                with stream:
                    _count_decompressed(stream, counter, chunk_size)
                raw.drain(chunk_size)
                if fmt == "jsonl.zst":
                    problem = zstd_frames_problem(p)
                    if problem:
                        raise OSError(problem)
            except (OSError, EOFError, zlib.error) as exc:
                raise HashingError(
                    f"not a valid {fmt} file: {exc}",
                    hint="the file is truncated or corrupt; recreate it from its source",
                    location=Location(shown),
                ) from None
            except Exception as exc:
                if type(exc).__module__.startswith("zstandard") or type(exc).__name__ == "ZstdError":
                    raise HashingError(
                        f"not a valid {fmt} file: {exc}",
                        hint="the file is truncated or corrupt; recreate it from its source",
                        location=Location(shown),
                    ) from None
                raise
            nbytes = raw.nbytes
            records = counter.finish()
    except OSError as exc:
        raise HashingError(f"could not read: {exc.strerror or exc}", location=Location(shown)) from None
    finally:
        fh.close()
        if own_helper is not None:
            own_helper.shutdown()
    if fmt == "parquet" and count_records:
        records = _parquet_rows(p, shown)
    return FileDigest(path=p, sha256=sha.hexdigest(), bytes=nbytes, records=records, format=fmt)


def hash_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    count_records: bool = True,
    chunk_size: int = CHUNK_SIZE,
    on_bytes: ProgressCallback | None = None,
    displays: Sequence[str] | None = None,
) -> list[FileDigest]:
    """Hash several files in parallel; results come back in the order of ``paths``.

    ``jobs`` is the number of files hashed at once (default: the CPUs available). The
    first failure (in ``paths`` order) is raised after the other files finish.
    """
    if jobs is None:
        jobs = available_cpus()
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if displays is not None and len(displays) != len(paths):
        raise ValueError("displays must match paths")
    shown = list(displays) if displays is not None else [None] * len(paths)
    if not paths:
        return []
    workers = min(jobs, len(paths))
    if workers > 1 and _use_processes(paths):
        return _hash_files_in_processes(paths, shown, workers, count_records, chunk_size, on_bytes)
    # Counting in a helper thread overlaps it with hashing, which pays off only while
    # cores are idle; when every core already hashes a file, counting inline is cheaper.
    overlap = workers < available_cpus() if _OVERLAP is None else _OVERLAP
    with (
        ThreadPoolExecutor(workers if overlap else 1, thread_name_prefix="ftpolicy-count") as helper,
        ThreadPoolExecutor(workers, thread_name_prefix="ftpolicy-hash") as pool,
    ):
        futures = [
            pool.submit(
                hash_file,
                p,
                count_records=count_records,
                chunk_size=chunk_size,
                on_bytes=on_bytes,
                display=d,
                _helper=helper if overlap else None,
                _overlap=overlap,
            )
            for p, d in zip(paths, shown, strict=True)
        ]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


# Above this many bytes in all, several files are hashed in separate processes: hashing
# releases the GIL but record counting does not, and measured under load two threads
# reached 0.6-0.8x of one hashlib stream while two processes reached 1.4-1.8x.
PROCESS_THRESHOLD = 64 * 1024 * 1024


def _use_processes(paths: Sequence[str | os.PathLike[str]]) -> bool:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    total = 0
    for p in paths:
        try:
            total += os.stat(p).st_size
        except OSError:
            return False  # let the thread path report the error in its usual way
    return total >= PROCESS_THRESHOLD


def _hash_files_in_processes(
    paths: Sequence[str | os.PathLike[str]],
    shown: Sequence[str | None],
    workers: int,
    count_records: bool,
    chunk_size: int,
    on_bytes: ProgressCallback | None,
) -> list[FileDigest]:
    """Hash files in forked worker processes; progress advances per finished file."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                hash_file,
                p,
                count_records=count_records,
                chunk_size=chunk_size,
                display=d,
                _overlap=False,
                _mapped=True,
            )
            for p, d in zip(paths, shown, strict=True)
        ]
        if on_bytes is not None:
            from concurrent.futures import as_completed

            for f in as_completed(futures):
                if f.exception() is None:
                    on_bytes(f.result().bytes)
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool:
            for f in futures:
                f.cancel()
            raise HashingError(
                "a hashing worker process died",
                hint="a file may have shrunk while it was being hashed, or the machine ran out of "
                "memory; run the command again (--jobs 1 hashes in this process)",
            ) from None
        except BaseException:
            for f in futures:
                f.cancel()
            raise
