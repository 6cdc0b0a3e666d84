"""``registry/<adapter>.yaml``: read, lock, and write atomically with an append-only history.

Every change goes through :func:`transaction`: it takes an exclusive ``fcntl.flock`` on
``registry/.lock`` (so two promotes at once are serialised), reads the current file, lets
the caller change the document, checks that the new history *extends* the old one (same
entries, in the same order, new ones appended with the next ``seq``), validates the result
against ``schemas/registry.v1.schema.json`` and writes it with
:func:`~ftpolicy._internal.atomic.write_bytes_atomic` (temporary file, fsync, rename). A
process killed at any point leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ftpolicy.errors import ExitCode, FtpolicyError, ManifestError

REGISTRY_DIR = "registry"
LOCK_NAME = ".lock"
HEADER = "# Channels of {name}; history is append-only (ftpolicy promote/rollback/revoke).\n"


class RegistryError(FtpolicyError):
    """A registry operation was refused; ``code`` names the reason (also shown in the message)."""

    code = "registry.refused"
    exit_code = ExitCode.VIOLATION

    def __init__(self, message: str, *, code: str, hint: str | None = None) -> None:
        super().__init__(f"{message} [{code}]", hint=hint, code=code)


def registry_rel(name: str) -> str:
    """Repo-relative path of an adapter's registry file."""
    return f"{REGISTRY_DIR}/{name}.yaml"


def empty_registry(name: str, channels: list[str]) -> dict[str, Any]:
    """A new registry document with every configured channel unset."""
    return {
        "schema_version": 1,
        "kind": "registry",
        "adapter": name,
        "channels": {c: None for c in channels},
        "history": [],
    }


def load_registry(root: Path, name: str, *, channels: list[str] | None = None) -> dict[str, Any]:
    """The registry document (validated); a fresh one when the file does not exist yet."""
    from ftpolicy.manifest import parse_manifest

    rel = registry_rel(name)
    path = root / rel
    if not path.exists():
        return empty_registry(name, channels or [])
    data = path.read_bytes()
    return copy.deepcopy(parse_manifest(rel, data, kind="registry", root=root).data)


def dump_registry(doc: dict[str, Any]) -> bytes:
    """Deterministic YAML of a registry document (no aliases, keys in schema order)."""
    ordered = {k: doc[k] for k in ("schema_version", "kind", "adapter", "channels", "history") if k in doc}
    body = yaml.safe_dump(
        copy.deepcopy(ordered), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return (HEADER.format(name=doc["adapter"]) + body).encode("utf-8")


def check_extends(old: list[dict[str, Any]], new: list[dict[str, Any]], where: str) -> None:
    """Raise unless ``new`` is ``old`` plus appended entries numbered ``len(old)+1, …``."""
    if len(new) < len(old) or new[: len(old)] != old:
        raise ManifestError(
            f"{where}: history would be rewritten (entries changed, removed or reordered)",
            hint="history is append-only; record a rollback or revocation instead",
            code="registry.history",
        )
    for i, entry in enumerate(new[len(old) :], start=len(old) + 1):
        if entry.get("seq") != i:
            raise ManifestError(
                f"{where}: history entry {i} has seq {entry.get('seq')}", code="registry.history"
            )


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the exclusive registry lock (``registry/.lock``) for the block."""
    folder = root / REGISTRY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_registry(root: Path, name: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    """Validate ``new`` (schema, append-only history) and write it atomically; returns the path."""
    from ftpolicy._internal.atomic import write_bytes_atomic
    from ftpolicy.manifest import parse_manifest

    rel = registry_rel(name)
    check_extends(list(old.get("history") or []), list(new.get("history") or []), rel)
    data = dump_registry(new)
    parse_manifest(rel, data, kind="registry", root=root)
    write_bytes_atomic(root / rel, data)
    return rel
