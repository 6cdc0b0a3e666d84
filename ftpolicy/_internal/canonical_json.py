"""RFC 8785 canonical JSON for everything that is digested or signed."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def dumps(value: Any) -> bytes:
    """Canonical bytes of a JSON value (sorted keys, no whitespace, RFC 8785 numbers)."""
    return bytes(rfc8785.dumps(value))


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical form of ``value``."""
    return "sha256:" + hashlib.sha256(dumps(value)).hexdigest()
