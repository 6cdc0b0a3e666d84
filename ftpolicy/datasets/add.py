"""Add a dataset version: hash its shards and write ``datasets/NAME/VERSION.yaml``.

The manifest is built from the arguments, validated against
``schemas/dataset.v1.schema.json`` before anything is written, and written atomically
and exclusively: a version that exists is never overwritten
(:class:`~ftpolicy.errors.ImmutableVersionError`), because reviews, attestations and
adapters refer to it by name and version.

>>> add_dataset_version(                                               # doctest: +SKIP
...     repo, "support-tickets", version="1.1.0", shards=["data/tickets-2.jsonl.zst"],
...     sources=[Source.parse("kind=internal,uri=s3://corp/tickets,licence=proprietary")],
...     collected_by="data-eng", authors=["alice"], collection=("2026-01-01", "2026-03-31"),
...     record_format="chat", parent="1.0.0", change_summary="Q1 tickets, PII scrubbed")
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from ftpolicy.errors import ImmutableVersionError, PathEscapeError, UsageError
from ftpolicy.hashing import FileDigest, ProgressCallback, hash_files, shard_format

SOURCE_KINDS = ("internal", "vendor", "public", "user-generated")

# Which command-line option sets each top-level manifest field (for error hints).
_OPTION_FOR_FIELD = {
    "name": "NAME",
    "version": "--version",
    "description": "--description",
    "record_format": "--record-format",
    "parent": "--parent",
    "change_summary": "--change-summary",
    "sources": "--source",
    "collected_by": "--collected-by",
    "authors": "--author",
    "collection": "--collection",
    "preprocessing": "--preprocess",
    "shards": "--shard",
}


@cache
def _pattern(definition: str) -> re.Pattern[str]:
    from ftpolicy.manifest import schema_for

    return re.compile(schema_for("common")["$defs"][definition]["pattern"])


def check_name(name: str) -> None:
    """Raise :class:`UsageError` unless ``name`` is a valid dataset name."""
    if not _pattern("name").match(name):
        raise UsageError(
            f"invalid dataset name {name!r}",
            hint="use lower-case letters, digits, '.', '_' and '-' (at most 64 characters), "
            "starting with a letter or digit",
        )


def check_version(version: str, option: str = "--version") -> None:
    """Raise :class:`UsageError` unless ``version`` is a valid version label."""
    if not _pattern("version").match(version):
        raise UsageError(
            f"invalid {option} {version!r}",
            hint="use letters, digits, '.', '_', '+' and '-' (at most 64), e.g. 1.2.0",
        )


def parse_key_values(text: str, option: str, known: Sequence[str]) -> dict[str, str]:
    """Parse ``k=v,k=v``; a segment that does not start with a known key continues the
    previous value (so values may contain commas)."""
    out: dict[str, str] = {}
    last: str | None = None
    for segment in text.split(","):
        key, sep, value = segment.partition("=")
        key = key.strip()
        if sep and key in known:
            if key in out:
                raise UsageError(f"{option}: '{key}' given twice in {text!r}")
            out[key] = value.strip()
            last = key
        elif last is not None:
            out[last] += "," + segment
        else:
            raise UsageError(
                f"{option}: cannot read {segment!r} in {text!r}",
                hint=f"write {option} "
                + ",".join(f"{k}=..." for k in known[:3])
                + f" (keys: {', '.join(known)})",
            )
    return out


@dataclass(frozen=True)
class Source:
    """Where data came from: ``kind`` (internal, vendor, public, user-generated), ``uri``, licence."""

    kind: str
    uri: str
    licence: str
    name: str | None = None
    description: str | None = None

    _KEYS = ("kind", "uri", "licence", "license", "name", "description")

    @classmethod
    def parse(cls, text: str) -> Source:
        """Parse ``kind=internal,uri=s3://...,licence=...[,name=...][,description=...]``."""
        values = parse_key_values(text, "--source", cls._KEYS)
        if "license" in values:
            if "licence" in values:
                raise UsageError("--source: give 'licence' once (not also 'license')")
            values["licence"] = values.pop("license")
        missing = [k for k in ("kind", "uri", "licence") if not values.get(k)]
        if missing:
            raise UsageError(
                f"--source {text!r} lacks {', '.join(missing)}",
                hint="write --source kind=internal,uri=s3://bucket/path,licence=proprietary[,name=NAME]",
            )
        if values["kind"] not in SOURCE_KINDS:
            raise UsageError(
                f"--source: unknown kind {values['kind']!r}", hint="use one of: " + ", ".join(SOURCE_KINDS)
            )
        return cls(
            kind=values["kind"],
            uri=values["uri"],
            licence=values["licence"],
            name=values.get("name") or None,
            description=values.get("description") or None,
        )

    def to_manifest(self, default_name: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name or default_name, "kind": self.kind, "uri": self.uri}
        out["licence"] = self.licence
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class PreprocessStep:
    """A preprocessing step: tool, tool version, and the digest of its parameters."""

    tool: str
    version: str
    parameters_digest: str
    description: str | None = None

    _KEYS = ("tool", "version", "params", "params_digest", "description")

    @classmethod
    def parse(cls, text: str, base: Path | None = None) -> PreprocessStep:
        """Parse ``tool=T,version=V,params=FILE`` (or ``params_digest=sha256:...``).

        The parameters file is digested as it is on disk (``sha256:`` of its bytes); a
        relative path is read from ``base`` (default: the current folder).
        """
        from ftpolicy.hashing import Digest

        values = parse_key_values(text, "--preprocess", cls._KEYS)
        missing = [k for k in ("tool", "version") if not values.get(k)]
        if missing or ("params" in values) == ("params_digest" in values):
            raise UsageError(
                f"--preprocess {text!r} needs tool, version and one of "
                "params=FILE or params_digest=sha256:...",
                hint="e.g. --preprocess tool=dedup,version=1.4.2,params=configs/dedup.yaml",
            )
        if "params" in values:
            params = Path(values["params"])
            if not params.is_absolute() and base is not None:
                params = base / params
            try:
                digest = str(Digest.of_file(params))
            except FileNotFoundError:
                raise UsageError(
                    f"--preprocess: parameters file {values['params']!r} not found",
                    hint="params= names the tool's configuration file; its sha256 is recorded",
                    code="file.not-found",
                ) from None
            except IsADirectoryError:
                raise UsageError(f"--preprocess: parameters path {values['params']!r} is a folder") from None
        else:
            digest = str(Digest.parse(values["params_digest"]))
        return cls(values["tool"], values["version"], digest, values.get("description") or None)

    def to_manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool": self.tool,
            "version": self.version,
            "parameters_digest": self.parameters_digest,
        }
        if self.description:
            out["description"] = self.description
        return out


def parse_collection(text: str) -> tuple[str, str]:
    """Parse ``START..END`` (ISO dates, END not before START)."""
    start, sep, end = text.partition("..")
    if not sep or not start or not end:
        raise UsageError(
            f"--collection {text!r} is not START..END", hint="e.g. --collection 2026-01-01..2026-03-31"
        )
    try:
        if date.fromisoformat(end) < date.fromisoformat(start):
            raise UsageError(f"--collection {text!r}: the end is before the start")
    except ValueError:
        raise UsageError(
            f"--collection {text!r}: dates must be YYYY-MM-DD",
            hint="e.g. --collection 2026-01-01..2026-03-31",
        ) from None
    return start, end


@dataclass(frozen=True)
class AddResult:
    """What :func:`add_dataset_version` wrote."""

    path: str  # repo-relative, e.g. datasets/support-tickets/1.1.0.yaml
    manifest: dict[str, Any]
    shards: tuple[FileDigest, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def records(self) -> int:
        return sum(d.records or 0 for d in self.shards)

    @property
    def bytes(self) -> int:
        return sum(d.bytes for d in self.shards)


def manifest_path(name: str, version: str) -> str:
    """Repo-relative path of a dataset version's manifest."""
    return f"datasets/{name}/{version}.yaml"


def existing_versions(root: Path, name: str) -> list[str]:
    """Versions of ``name`` that have a manifest in the work tree, sorted by file name."""
    folder = root / "datasets" / name
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())


def resolve_shard(root: Path, given: str | os.PathLike[str]) -> tuple[str, Path]:
    """(repo-relative POSIX path, real path) of a shard, which must lie inside ``root``.

    Relative paths are taken from the current folder, as a shell user expects.
    """
    from ftpolicy.manifest import confine

    text = os.fspath(given)
    absolute = Path(os.path.abspath(text))
    rel: str | None = None
    for base in (Path(os.path.abspath(root)), Path(os.path.realpath(root))):
        try:
            rel = absolute.relative_to(base).as_posix()
            break
        except ValueError:
            continue
    if rel is None or rel in ("", "."):
        raise PathEscapeError(
            f"shard {text!r} is outside the repository {root}",
            hint="copy or move the shard into the repository (e.g. data/) so it is pinned with the manifest",
        )
    real = confine(root, rel)
    if not real.exists():
        raise UsageError(f"shard {text!r}: no such file", code="file.not-found")
    if not real.is_file():
        raise UsageError(f"shard {text!r} is not a regular file", hint="pass the shard files themselves")
    return rel, real


class _Quoted(str):
    """A string always written double-quoted (versions: "1.0" must stay text)."""


def render_manifest(data: dict[str, Any]) -> str:
    """YAML text of a manifest: keys in the given order, lists indented, versions quoted."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    def _quoted(dumper: yaml.SafeDumper, value: _Quoted) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')

    _Dumper.add_representer(_Quoted, _quoted)
    body = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    header = (
        "# Written by `ftpolicy dataset add`. Dataset versions are immutable: to change the data,\n"
        "# add a new version with --parent pointing here instead of editing this file.\n"
    )
    return header + body


def build_manifest(
    *,
    name: str,
    version: str,
    record_format: str,
    parent: str | None,
    change_summary: str,
    sources: Sequence[Source],
    collected_by: str,
    authors: Sequence[str],
    collection: tuple[str, str],
    preprocessing: Sequence[PreprocessStep],
    shards: Sequence[tuple[str, FileDigest]],
    description: str | None = None,
) -> dict[str, Any]:
    """The manifest document, fields in the schema's order."""
    doc: dict[str, Any] = {"schema_version": 1, "kind": "dataset", "name": name, "version": _Quoted(version)}
    if description:
        doc["description"] = description
    doc["record_format"] = record_format
    doc["parent"] = _Quoted(parent) if parent is not None else None
    doc["change_summary"] = change_summary
    many = len(sources) > 1
    doc["sources"] = [s.to_manifest(f"{name}-{i + 1}" if many else name) for i, s in enumerate(sources)]
    doc["collected_by"] = collected_by
    doc["authors"] = list(authors)
    doc["collection"] = {"start": _Quoted(collection[0]), "end": _Quoted(collection[1])}
    doc["preprocessing"] = [p.to_manifest() for p in preprocessing]
    doc["shards"] = [
        {"path": rel, "sha256": d.sha256, "bytes": d.bytes, "records": d.records, "format": d.format}
        for rel, d in shards
    ]
    return doc


def add_dataset_version(
    root: Path,
    name: str,
    *,
    version: str,
    shards: Sequence[str | os.PathLike[str]],
    sources: Sequence[Source],
    collected_by: str,
    authors: Sequence[str],
    collection: tuple[str, str],
    record_format: str,
    change_summary: str,
    preprocessing: Sequence[PreprocessStep] = (),
    parent: str | None = None,
    description: str | None = None,
    jobs: int | None = None,
    on_bytes: ProgressCallback | None = None,
) -> AddResult:
    """Hash ``shards`` and write ``datasets/NAME/VERSION.yaml``; see the module docstring.

    Raises :class:`UsageError` for bad arguments (including a manifest that would not
    validate: nothing is written then), :class:`ImmutableVersionError` if the version
    exists, :class:`PathEscapeError` for a shard outside the repository.
    """
    from ftpolicy._internal.atomic import write_text_atomic
    from ftpolicy.manifest import check_manifest

    check_name(name)
    check_version(version)
    rel_manifest = manifest_path(name, version)
    target = root / rel_manifest
    if target.exists() or target.is_symlink():
        raise _exists(name, version, rel_manifest)
    warnings: list[str] = []
    versions = existing_versions(root, name)
    if parent is not None:
        check_version(parent, "--parent")
        if parent == version:
            raise UsageError(
                f"--parent {parent!r} is the version being added", hint="name the previous version"
            )
        if not (root / manifest_path(name, parent)).is_file():
            known = ", ".join(versions) if versions else "none yet"
            raise UsageError(
                f"--parent {parent!r}: dataset '{name}' has no version {parent} "
                f"({manifest_path(name, parent)} not found)",
                hint=f"existing versions of {name}: {known}",
                code="dataset.parent-not-found",
            )
    elif versions:
        warnings.append(
            f"dataset '{name}' already has version(s) {', '.join(versions)} but no --parent was given; "
            "the new version records parent: null"
        )
    if not shards:
        raise UsageError("give at least one --shard PATH")
    if not sources:
        raise UsageError("give at least one --source kind=...,uri=...,licence=...")

    resolved: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for given in shards:
        rel, real = resolve_shard(root, given)
        if rel in seen:
            raise UsageError(f"shard {rel} is given twice")
        seen.add(rel)
        if shard_format(rel) is None:
            raise UsageError(
                f"shard {rel}: unsupported file type",
                hint="shards are .jsonl, .jsonl.gz, .jsonl.zst or .parquet files",
                code="format.unsupported",
            )
        resolved.append((rel, real))

    digests = hash_files(
        [real for _, real in resolved], jobs=jobs, on_bytes=on_bytes, displays=[r for r, _ in resolved]
    )
    for rel, real in resolved:
        warnings.extend(_sample_warnings(rel, real, record_format))
    warnings.extend(_identity_warnings(root, [collected_by, *authors]))
    doc = build_manifest(
        name=name,
        version=version,
        record_format=record_format,
        parent=parent,
        change_summary=change_summary,
        sources=sources,
        collected_by=collected_by,
        authors=authors,
        collection=collection,
        preprocessing=preprocessing,
        shards=[(rel, d) for (rel, _), d in zip(resolved, digests, strict=True)],
        description=description,
    )
    text = render_manifest(doc)
    _manifest, problems = check_manifest(rel_manifest, text.encode("utf-8"), kind="dataset", root=root)
    if problems:
        lines = []
        for p in problems:
            top = p.pointer.split("/")[1] if p.pointer else ""
            option = _OPTION_FOR_FIELD.get(top)
            lines.append(f"{option + ': ' if option else ''}{p.message}")
        raise UsageError(
            "the dataset manifest would be invalid, nothing was written:\n  - " + "\n  - ".join(lines),
            hint="fix the options named above (see `ftpolicy dataset add --help`)",
            code="dataset.invalid-arguments",
        )
    try:
        write_text_atomic(target, text, exclusive=True)
    except FileExistsError:
        raise _exists(name, version, rel_manifest) from None
    return AddResult(path=rel_manifest, manifest=doc, shards=tuple(digests), warnings=tuple(warnings))


SAMPLE_RECORDS = 50


def _sample_warnings(rel: str, real: Path, record_format: str) -> list[str]:
    """A warning when the first records of a shard do not fit ``record_format``."""
    from itertools import islice

    from ftpolicy.datasets.records import Malformed, read_records

    if shard_format(rel) == "parquet":
        return []
    bad = [
        (n, r)
        for n, r in islice(read_records(real, record_format), SAMPLE_RECORDS)
        if isinstance(r, Malformed)
    ]
    if not bad:
        return []
    line, first = bad[0]
    return [
        f"{rel}:{line}: {first.reason}; {len(bad)} of the first {SAMPLE_RECORDS} records do not fit "
        f"--record-format {record_format} (run `ftpolicy scan dataset` for the full picture)"
    ]


def _identity_warnings(root: Path, identities: Sequence[str]) -> list[str]:
    """Warnings for identities that have no file under identities/ (when that folder exists)."""
    folder = root / "identities"
    if not folder.is_dir():
        return []
    missing = sorted({i for i in identities if not (folder / f"{i}.yaml").is_file()})
    return [f"identity '{i}' has no identities/{i}.yaml; policies will not know who that is" for i in missing]


def _exists(name: str, version: str, rel: str) -> ImmutableVersionError:
    return ImmutableVersionError(
        f"dataset {name}@{version} already exists ({rel}); versions are immutable",
        hint=f"add a new version instead, e.g. --version <next> --parent {version}",
    )
