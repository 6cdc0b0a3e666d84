"""Hashing: streaming SHA-256 of dataset shards and other files, with record counts.

>>> from ftpolicy.hashing import hash_files
>>> [d] = hash_files(["data/train.jsonl.zst"])            # doctest: +SKIP
>>> d.sha256, d.bytes, d.records                          # doctest: +SKIP
('9f86d0...', 1048576, 2048)

Files are read once in 1 MiB chunks with constant memory per file and hashed in
parallel threads (``jobs``, default: the CPUs available); see :mod:`ftpolicy.hashing.stream`
for how records are counted per format.
"""

from ftpolicy.hashing.digest import Digest
from ftpolicy.hashing.stream import (
    CHUNK_SIZE,
    SHARD_FORMATS,
    FileDigest,
    HashingError,
    LineCounter,
    ProgressCallback,
    hash_file,
    hash_files,
    shard_format,
)

__all__ = [
    "CHUNK_SIZE",
    "SHARD_FORMATS",
    "Digest",
    "FileDigest",
    "HashingError",
    "LineCounter",
    "ProgressCallback",
    "hash_file",
    "hash_files",
    "shard_format",
]
