"""Datasets: versioned manifests (add), record-level change between versions (diff), readers.

>>> from ftpolicy.datasets import diff_versions
>>> d = diff_versions(repo_root, "support-tickets", "1.0.0", "1.1.0")   # doctest: +SKIP
>>> d.added, d.removed, d.modified                                      # doctest: +SKIP
(12, 3, 5)

* :mod:`ftpolicy.datasets.records`: streaming JSONL readers (chat, instruction,
  preference, text; plain, ``.gz``, ``.zst``) yielding records or malformed markers.
* :mod:`ftpolicy.datasets.add`: hash shards and write ``datasets/NAME/VERSION.yaml``
  (validated first, written atomically, never overwritten).
* :mod:`ftpolicy.datasets.diff`: added / removed / modified records between two versions.

Submodules are imported on first use so ``import ftpolicy.datasets`` stays cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "RECORD_FORMATS": "ftpolicy.datasets.records",
    "Malformed": "ftpolicy.datasets.records",
    "read_records": "ftpolicy.datasets.records",
    "open_shard": "ftpolicy.datasets.records",
    "AddResult": "ftpolicy.datasets.add",
    "PreprocessStep": "ftpolicy.datasets.add",
    "Source": "ftpolicy.datasets.add",
    "add_dataset_version": "ftpolicy.datasets.add",
    "DatasetDiff": "ftpolicy.datasets.diff",
    "RecordChange": "ftpolicy.datasets.diff",
    "ShardMismatchError": "ftpolicy.datasets.diff",
    "diff_versions": "ftpolicy.datasets.diff",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftpolicy.datasets' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
