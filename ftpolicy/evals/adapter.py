"""The adapter an eval is about: its registered files and their digest.

The digest is the one ``ftpolicy verify`` reports and the promotion policy compares
(:func:`ftpolicy.attest.evidence.adapter_digest` over ``{path: sha256}`` of the files the
adapter manifest lists). Files present in the work tree are hashed and must match the
manifest; absent files (weights kept elsewhere) are taken from the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftpolicy.attest.evidence import adapter_digest
from ftpolicy.errors import Location, ManifestError, UsageError
from ftpolicy.evals.seal import parse_ref
from ftpolicy.hashing.digest import sha256_file


@dataclass(frozen=True)
class AdapterInfo:
    """An adapter version's ref, manifest path, digest and the files found locally."""

    ref: str
    rel: str
    digest: str
    local_files: tuple[Path, ...]


def load_adapter(root: Path, ref: str) -> AdapterInfo:
    """Read ``adapters/NAME/VERSION.yaml`` and compute the adapter digest (checking local files)."""
    from ftpolicy.manifest import confine, load_manifest

    name, version = parse_ref(ref, "adapter")
    rel = f"adapters/{name}/{version}.yaml"
    if not (root / rel).is_file():
        raise UsageError(f"{ref}: no adapter manifest at {rel}", hint="register the adapter version first")
    manifest = load_manifest(root, rel)
    files: dict[str, str] = {}
    local: list[Path] = []
    for entry in manifest.data.get("files") or []:
        path, sha = str(entry.get("path", "")), str(entry.get("sha256", ""))
        files[path] = sha
        full = confine(root, path)
        if full.is_file():
            actual = sha256_file(full)
            if actual != sha:
                raise ManifestError(
                    f"{path}: sha256 {actual[:16]}… differs from {rel} ({sha[:16]}…)",
                    location=Location(rel),
                    hint="evaluate the adapter the manifest registers",
                )
            local.append(full)
    if not files:
        raise ManifestError(f"{rel}: the adapter lists no files", location=Location(rel))
    return AdapterInfo(f"{name}@{version}", rel, adapter_digest(files), tuple(local))
