"""ParseCache.prefill: parsing in worker processes gives the entries the serial parse gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftpolicy.policy import _cache
from ftpolicy.policy._cache import ParseCache
from ftpolicy.policy.input import content_entry

GOOD = b"""schema_version: 1
kind: identity
name: {name}
type: person
teams: [ml-training]
keys: []
"""


def _items(n: int) -> list[tuple[str, bytes]]:
    items = [(f"identities/p{i}.yaml", GOOD.replace(b"{name}", f"p{i}".encode())) for i in range(n)]
    items.append(("identities/bad.yaml", b"schema_version: 1\nkind: identity\nname: [\n"))
    items.append(("identities/worse.yaml", b"schema_version: 1\nkind: identity\nname: bad\nwho: x\n"))
    return items


def test_parallel_prefill_equals_serial_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPOLICY_CACHE", "0")  # in memory only
    monkeypatch.setattr(_cache, "PARALLEL_FROM", 10)
    monkeypatch.setattr(_cache, "_BATCH", 7)
    monkeypatch.setattr(_cache, "_cpus", lambda: 2)
    items = _items(40)
    cache = ParseCache(tmp_path)
    cache.prefill(items, content_entry)
    for path, raw in items:
        assert cache.get(ParseCache.key(path, raw)) == content_entry(path, raw), path
    assert cache.get(ParseCache.key(*items[-1]))["ok"] is False


def test_small_prefill_leaves_parsing_to_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPOLICY_CACHE", "0")
    cache = ParseCache(tmp_path)
    items = _items(3)
    cache.prefill(items, content_entry)
    assert all(cache.get(ParseCache.key(p, r)) is None for p, r in items)
