"""Record-level change between two dataset versions.

Each version's local shards are first checked against the SHA-256 and size in its
manifest (a mismatch is a :class:`ShardMismatchError`), then read record by record.

Keys. A record with an ``id`` field (text or number) is keyed by it; any other record by
a digest of its prompt side: for ``chat`` every message whose role is not ``assistant``,
for ``instruction`` ``instruction`` + ``input``, for ``preference`` ``prompt``, for
``text`` the text itself. A key present in both versions with different content (the
whole record, canonically serialised) is *modified*; only in the new version *added*;
only in the old one *removed*.

Duplicate keys. Within one version the n-th record with a given key (in manifest shard
order, then line order) is paired with the n-th record with that key in the other
version. So a second copy of an unchanged record is one *added* record, and the result
does not depend on anything but the order of the data.

Malformed lines (not JSON, or not a record of the manifest's ``record_format``) are not
diffed; they are counted per version.

Memory: 16-byte key and content digests of the old version's records are kept
(about 100 bytes per record); the data itself is streamed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

from ftpolicy.datasets.records import Malformed, read_records
from ftpolicy.errors import ExitCode, FtpolicyError, UsageError
from ftpolicy.hashing import ProgressCallback, hash_files

DIFF_SCHEMA_VERSION = 1
_EXCERPT = 80


class ShardMismatchError(FtpolicyError):
    """A shard on disk does not match the SHA-256 or size its manifest pins."""

    code = "dataset.shard-mismatch"
    exit_code = ExitCode.VIOLATION


@dataclass(frozen=True)
class RecordChange:
    """One example of a change: the record's key, where it is, and a short excerpt.

    For a modified record, ``field`` names the first field that differs (e.g.
    ``messages[2].content``), ``excerpt``/``old_excerpt`` show its new and old value and
    ``old_shard``/``old_line`` where the old record was.
    """

    key: str
    shard: str
    line: int
    excerpt: str
    old_shard: str | None = None
    old_line: int | None = None
    old_excerpt: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "shard": self.shard,
            "line": self.line,
            "excerpt": self.excerpt,
        }
        if self.old_shard is not None:
            out.update(
                old_shard=self.old_shard,
                old_line=self.old_line,
                old_excerpt=self.old_excerpt,
                field=self.field,
            )
        return out


@dataclass(frozen=True)
class VersionStats:
    """Counts for one side of a diff."""

    ref: str
    records: int  # usable records
    malformed: int
    duplicate_keys: int  # records whose key already appeared earlier in the same version
    keyed_by_id: int
    keyed_by_prompt: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "records": self.records,
            "malformed": self.malformed,
            "duplicate_keys": self.duplicate_keys,
            "keyed_by": {"id": self.keyed_by_id, "prompt": self.keyed_by_prompt},
        }


@dataclass(frozen=True)
class DatasetDiff:
    """Added / removed / modified / unchanged record counts with a few examples each."""

    old: VersionStats
    new: VersionStats
    added: int
    removed: int
    modified: int
    unchanged: int
    added_examples: tuple[RecordChange, ...] = field(default=())
    removed_examples: tuple[RecordChange, ...] = field(default=())
    modified_examples: tuple[RecordChange, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Stable, versioned machine form (``--format json``)."""
        return {
            "schema_version": DIFF_SCHEMA_VERSION,
            "kind": "dataset-diff",
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "summary": {
                "added": self.added,
                "removed": self.removed,
                "modified": self.modified,
                "unchanged": self.unchanged,
            },
            "examples": {
                "added": [c.to_dict() for c in self.added_examples],
                "removed": [c.to_dict() for c in self.removed_examples],
                "modified": [c.to_dict() for c in self.modified_examples],
            },
            "duplicate_key_pairing": "nth-occurrence",
        }


@cache
def _ref_pattern() -> re.Pattern[str]:
    from ftpolicy.manifest import schema_for

    return re.compile(schema_for("common")["$defs"]["ref"]["pattern"])


def parse_ref(text: str) -> tuple[str, str]:
    """Split ``NAME@VERSION``."""
    if not _ref_pattern().match(text):
        raise UsageError(
            f"{text!r} is not NAME@VERSION", hint="e.g. support-tickets@1.0.0", code="dataset.bad-ref"
        )
    name, _, version = text.partition("@")
    return name, version


# ---------------------------------------------------------------------------- keys


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _digest16(tag: bytes, value: Any) -> bytes:
    return hashlib.sha256(tag + b"\0" + _canonical(value)).digest()[:16]


def _prompt_side(record: dict[str, Any], record_format: str) -> Any:
    if record_format == "chat":
        return [
            m
            for m in record.get("messages", [])
            if not (isinstance(m, dict) and m.get("role") == "assistant")
        ]
    if record_format == "instruction":
        return [record.get("instruction"), record.get("input")]
    if record_format == "preference":
        return record.get("prompt")
    return record.get("text")


def _has_id(record: dict[str, Any]) -> bool:
    rid = record.get("id")
    return isinstance(rid, str | int | float) and not isinstance(rid, bool)


def record_key(record: dict[str, Any], record_format: str) -> tuple[bytes, str]:
    """(16-byte key digest, readable key) of a record; see the module docstring."""
    if _has_id(record):
        return _digest16(b"id", record["id"]), "id=" + json.dumps(record["id"], ensure_ascii=False)
    digest = hashlib.sha256(b"prompt\0" + _canonical(_prompt_side(record, record_format))).hexdigest()
    return bytes.fromhex(digest[:32]), f"prompt=sha256:{digest[:12]}"


def _excerpt(record: dict[str, Any], record_format: str) -> str:
    text: Any = None
    if record_format == "chat":
        for m in record.get("messages", []):
            if isinstance(m, dict) and m.get("role") == "user":
                text = m.get("content")
                break
        else:
            msgs = record.get("messages") or [{}]
            text = msgs[0].get("content") if isinstance(msgs[0], dict) else None
    elif record_format == "instruction":
        text = record.get("instruction")
    elif record_format == "preference":
        text = record.get("prompt")
    else:
        text = record.get("text")
    if not isinstance(text, str):
        text = json.dumps(text if text is not None else record, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


_MISSING = object()


def _first_difference(old: Any, new: Any, path: str = "") -> tuple[str, Any, Any]:
    """(path, old value, new value) of the first place two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new), key=str):
            a, b = old.get(k, _MISSING), new.get(k, _MISSING)
            if a != b:
                return _first_difference(a, b, f"{path}.{k}" if path else str(k))
        return path, old, new
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            a = old[i] if i < len(old) else _MISSING
            b = new[i] if i < len(new) else _MISSING
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
        return path, old, new
    return path or "(record)", old, new


def _first_differing_char(a: Any, b: Any) -> int:
    """Where two strings start to differ (0 for anything else)."""
    if not (isinstance(a, str) and isinstance(b, str)):
        return 0
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _short(value: Any, at: int = 0) -> str:
    """A one-line excerpt of ``value``; for text, the window around character ``at``."""
    if value is _MISSING:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    prefix = ""
    if at > 20 and isinstance(value, str):
        text, prefix = text[at - 20 :], "..."
    text = prefix + " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


@dataclass(frozen=True)
class _PendingModified:
    key_text: str
    shard: str
    line: int
    record: dict[str, Any]
    old_si: int
    old_line: int


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Version:
    ref: str
    manifest_path: str
    record_format: str
    shards: tuple[tuple[str, Path], ...]  # (repo-relative path, real path)


@dataclass(frozen=True)
class _ShardCheck:
    ref: str
    manifest_path: str
    index: int
    path: str
    real: Path
    sha256: str
    size: int
    line: int | None
    column: int | None


def _load_version(root: Path, name: str, version: str) -> tuple[_Version, list[_ShardCheck]]:
    from ftpolicy.datasets.add import existing_versions, manifest_path
    from ftpolicy.manifest import confine, load_manifest

    rel = manifest_path(name, version)
    if not (root / rel).is_file():
        known = ", ".join(existing_versions(root, name)) or "none"
        raise UsageError(
            f"dataset {name}@{version} not found ({rel} does not exist)",
            hint=f"versions of '{name}' in this repository: {known}",
            code="dataset.version-not-found",
        )
    manifest = load_manifest(root, rel)
    data = manifest.data
    ref = f"{name}@{version}"
    checks: list[_ShardCheck] = []
    for i, shard in enumerate(data["shards"]):
        if "path" not in shard:
            raise UsageError(
                f"{rel}: shard {i + 1} is remote ({shard.get('uri')}); diff reads local shards only",
                hint="fetch the shard into the repository and record it by path, or diff elsewhere",
                code="dataset.remote-shard",
            )
        real = confine(root, shard["path"])
        if not real.is_file():
            raise ShardMismatchError(
                f"shard {shard['path']} of {ref} is missing",
                hint="restore the file (git checkout / fetch the data) so it can be verified",
                location=manifest.location(f"/shards/{i}/path"),
            )
        loc = manifest.location(f"/shards/{i}/sha256")
        checks.append(
            _ShardCheck(
                ref, rel, i, shard["path"], real, shard["sha256"], shard["bytes"], loc.line, loc.column
            )
        )
    version_info = _Version(
        ref=ref,
        manifest_path=rel,
        record_format=data["record_format"],
        shards=tuple((c.path, c.real) for c in checks),
    )
    return version_info, checks


def verify_shards(
    checks: list[_ShardCheck], jobs: int | None = None, on_bytes: ProgressCallback | None = None
) -> None:
    """Hash every distinct shard file once and compare with what its manifest pins."""
    from ftpolicy.errors import Location

    unique: dict[Path, str] = {}
    for c in checks:
        unique.setdefault(c.real, c.path)
    digests = dict(
        zip(
            unique,
            hash_files(list(unique), jobs=jobs, on_bytes=on_bytes, displays=list(unique.values())),
            strict=True,
        )
    )
    for c in checks:
        d = digests[c.real]
        if d.sha256 != c.sha256 or d.bytes != c.size:
            what = (
                f"sha256 is {d.sha256[:16]}..., the manifest pins {c.sha256[:16]}..."
                if d.sha256 != c.sha256
                else f"size is {d.bytes} bytes, the manifest says {c.size}"
            )
            raise ShardMismatchError(
                f"shard {c.path} does not match {c.ref}: {what}",
                hint="the data changed after the version was recorded; restore it, "
                "or record the change as a new version with `ftpolicy dataset add`",
                location=Location(c.manifest_path, c.line, c.column, f"/shards/{c.index}/sha256"),
            )


def _records(v: _Version) -> Iterator[tuple[int, str, int, dict[str, Any] | Malformed]]:
    """(shard index, shard path, line, record) over all shards in manifest order."""
    for si, (rel, real) in enumerate(v.shards):
        for line, rec in read_records(real, v.record_format):
            yield si, rel, line, rec


def _occurrence_key(key: bytes, taken: dict[bytes, Any] | set[bytes]) -> tuple[bytes, bool]:
    """``key`` itself, or ``key`` + occurrence number when it was already used."""
    if key not in taken:
        return key, False
    n = 1
    while (candidate := key + n.to_bytes(4, "big")) in taken:
        n += 1
    return candidate, True


def diff_versions(
    root: Path,
    old: str | tuple[str, str],
    new: str | tuple[str, str],
    *,
    examples: int = 3,
    jobs: int | None = None,
    on_bytes: ProgressCallback | None = None,
) -> DatasetDiff:
    """Diff two dataset versions given as ``NAME@VERSION`` (or ``(name, version)``)."""
    if examples < 0:
        raise UsageError("--examples must be 0 or more")
    old_nv = parse_ref(old) if isinstance(old, str) else old
    new_nv = parse_ref(new) if isinstance(new, str) else new
    v_old, old_checks = _load_version(root, *old_nv)
    v_new, new_checks = _load_version(root, *new_nv)
    verify_shards(old_checks + new_checks, jobs, on_bytes)

    # Pass 1: the old version's keys -> (content digest, shard index, line), in data order.
    old_map: dict[bytes, tuple[bytes, int, int]] = {}
    o_bad = o_dup = o_id = o_prompt = 0
    for si, _rel, line, rec in _records(v_old):
        if isinstance(rec, Malformed):
            o_bad += 1
            continue
        key, _ = record_key(rec, v_old.record_format)
        if _has_id(rec):
            o_id += 1
        else:
            o_prompt += 1
        key, dup = _occurrence_key(key, old_map)
        o_dup += dup
        old_map[key] = (_digest16(b"record", rec), si, line)
    old_total = len(old_map)

    # Pass 2: the new version against it.
    seen_new: set[bytes] = set()
    added = modified = unchanged = 0
    n_bad = n_dup = n_id = n_prompt = 0
    added_ex: list[RecordChange] = []
    modified_new: list[_PendingModified] = []
    for _si, rel, line, rec in _records(v_new):
        if isinstance(rec, Malformed):
            n_bad += 1
            continue
        key, key_text = record_key(rec, v_new.record_format)
        if _has_id(rec):
            n_id += 1
        else:
            n_prompt += 1
        key, dup = _occurrence_key(key, seen_new)
        n_dup += dup
        seen_new.add(key)
        hit = old_map.pop(key, None)
        if hit is None:
            added += 1
            if len(added_ex) < examples:
                added_ex.append(
                    RecordChange(_dup_text(key_text, key), rel, line, _excerpt(rec, v_new.record_format))
                )
        elif hit[0] != _digest16(b"record", rec):
            modified += 1
            if len(modified_new) < examples:
                modified_new.append(
                    _PendingModified(_dup_text(key_text, key), rel, line, rec, hit[1], hit[2])
                )
        else:
            unchanged += 1
    removed = len(old_map)
    new_total = len(seen_new)

    # Pass 3 (only when needed): the old side of removed and modified examples.
    removed_keys = [(k, si, line) for k, (_, si, line) in islice(old_map.items(), examples)]
    wanted = {(si, line) for _k, si, line in removed_keys} | {(m.old_si, m.old_line) for m in modified_new}
    old_records: dict[tuple[int, int], dict[str, Any]] = {}
    if wanted:
        for si, _rel, line, rec in _records(v_old):
            if (si, line) in wanted and not isinstance(rec, Malformed):
                old_records[(si, line)] = rec
                if len(old_records) == len(wanted):
                    break
    removed_ex = tuple(
        RecordChange(
            _dup_text(record_key(old_records[(si, line)], v_old.record_format)[1], k),
            v_old.shards[si][0],
            line,
            _excerpt(old_records[(si, line)], v_old.record_format),
        )
        for k, si, line in removed_keys
    )
    modified_ex = []
    for m in modified_new:
        old_rec = old_records[(m.old_si, m.old_line)]
        where, was, now = _first_difference(old_rec, m.record)
        at = _first_differing_char(was, now)
        modified_ex.append(
            RecordChange(
                m.key_text,
                m.shard,
                m.line,
                _short(now, at),
                old_shard=v_old.shards[m.old_si][0],
                old_line=m.old_line,
                old_excerpt=_short(was, at),
                field=where,
            )
        )
    return DatasetDiff(
        old=VersionStats(v_old.ref, old_total, o_bad, o_dup, o_id, o_prompt),
        new=VersionStats(v_new.ref, new_total, n_bad, n_dup, n_id, n_prompt),
        added=added,
        removed=removed,
        modified=modified,
        unchanged=unchanged,
        added_examples=tuple(added_ex),
        removed_examples=removed_ex,
        modified_examples=tuple(modified_ex),
    )


def _dup_text(key_text: str, key: bytes) -> str:
    if len(key) > 16:
        return f"{key_text} (occurrence {int.from_bytes(key[16:], 'big') + 1})"
    return key_text
