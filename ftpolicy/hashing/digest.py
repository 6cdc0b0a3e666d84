"""Self-describing digests: ``sha256:<hex>``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ftpolicy.errors import UsageError

_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$")}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, streamed (no record counting; see :func:`hash_file` for that)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class Digest:
    """A digest that names its algorithm; ``str()`` gives ``sha256:<hex>``.

    >>> str(Digest.of_bytes(b""))
    'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    >>> Digest.parse("sha256:" + "0" * 64).hex == "0" * 64
    True
    """

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        pattern = _HEX.get(self.algorithm)
        if pattern is None:
            raise UsageError(f"unsupported digest algorithm {self.algorithm!r}", hint="use sha256")
        if not pattern.match(self.hex):
            raise UsageError(
                f"{self.hex!r} is not a {self.algorithm} digest",
                hint="expected 64 lower-case hexadecimal characters",
                code="digest.invalid",
            )

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def sha256(cls, hex_digest: str) -> Digest:
        """Wrap a bare lower-case SHA-256 hex string."""
        return cls("sha256", hex_digest)

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<hex>``; raise :class:`UsageError` on anything else."""
        algorithm, sep, value = text.partition(":")
        if not sep:
            raise UsageError(
                f"{text!r} is not a digest", hint="write it as sha256:<64 hex>", code="digest.invalid"
            )
        return cls(algorithm, value)

    @classmethod
    def of_bytes(cls, data: bytes) -> Digest:
        """SHA-256 of a byte string."""
        return cls("sha256", hashlib.sha256(data).hexdigest())

    @classmethod
    def of_file(cls, path: Path) -> Digest:
        """SHA-256 of a file's bytes (streamed; no record counting)."""
        return cls("sha256", sha256_file(path))
