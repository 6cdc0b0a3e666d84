"""Load manifests: safe YAML -> schema_version check -> JSON Schema -> semantic checks."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ftpolicy.errors import Location, ManifestError, PathEscapeError, UsageError
from ftpolicy.manifest.schema import KIND_SCHEMAS, SUPPORTED_SCHEMA_VERSIONS, Problem, validate_instance
from ftpolicy.manifest.yamlsafe import Positions, load_yaml

CONFIG_FILE = "ftpolicy.yaml"

# Where each kind lives in a governed repository (glob relative to the root).
KIND_GLOBS: dict[str, tuple[str, ...]] = {
    "config": (CONFIG_FILE,),
    "teams": ("identities/teams.yaml",),
    "identity": ("identities/*.yaml",),
    "dataset": ("datasets/*/*.yaml",),
    "eval-suite": ("evals/*/*.yaml",),
    "adapter": ("adapters/*/*.yaml",),
    "registry": ("registry/*.yaml",),
}

# JSON pointers (with * for list indexes) of fields that are repository paths.
_PATH_FIELDS: dict[str, tuple[str, ...]] = {
    "config": ("/layout/path", "/engine/extra_policies"),
    "identity": ("/keys/*/public_key",),
    "dataset": ("/shards/*/path",),
    "eval-suite": ("/items/path",),
    "adapter": ("/files/*/path", "/signature/path", "/training/config_path"),
    "registry": ("/history/*/attestation",),
}


@dataclass
class Manifest:
    """A validated manifest: its kind, repo-relative path, data and source positions."""

    kind: str
    path: str
    data: dict[str, Any]
    positions: Positions = field(default_factory=Positions, repr=False)

    @property
    def ref(self) -> str | None:
        """``name@version`` for versioned kinds."""
        if "name" in self.data and "version" in self.data:
            return f"{self.data['name']}@{self.data['version']}"
        return None

    def location(self, pointer: str = "") -> Location:
        return Location(self.path, self.positions.line(pointer), self.positions.column(pointer), pointer)


def kind_for_path(rel: str) -> str | None:
    """The manifest kind a repo-relative path implies, or None.

    A path is of a kind when it has as many parts as one of the kind's globs and each part
    matches the glob's part (``fnmatch``, case-sensitive), as ``PurePosixPath.match`` does.
    """
    if rel.startswith(("./", "/")) or "//" in rel or "/./" in rel or rel.endswith(("/", "/.")):
        parts = PurePosixPath(rel).parts
    else:
        parts = tuple(rel.split("/"))
    for kind, patterns in _KIND_PARTS.get(len(parts), ()):
        for pattern in patterns:
            if all(m(part) for m, part in zip(pattern, parts, strict=True)):
                if kind == "identity" and parts[-1] == "teams.yaml":
                    continue
                return kind
    return None


def _compile_kind_parts() -> dict[int, list[tuple[str, list[list[Any]]]]]:
    """KIND_GLOBS by number of parts: per kind, each glob as one matcher per part."""
    out: dict[int, list[tuple[str, list[list[Any]]]]] = {}
    for kind, globs in KIND_GLOBS.items():
        by_len: dict[int, list[list[Any]]] = {}
        for glob in globs:
            parts = PurePosixPath(glob).parts
            by_len.setdefault(len(parts), []).append(
                [re.compile(fnmatch.translate(part)).match for part in parts]
            )
        for n, patterns in by_len.items():
            out.setdefault(n, []).append((kind, patterns))
    return out


_KIND_PARTS = _compile_kind_parts()


def _path_name_checks(kind: str, rel: str, data: dict[str, Any]) -> list[Problem]:
    """The file's place must agree with its content (datasets/NAME/VERSION.yaml)."""
    p = PurePosixPath(rel)
    out: list[Problem] = []
    if kind in ("dataset", "eval-suite", "adapter") and len(p.parts) == 3:
        if isinstance(data.get("name"), str) and data["name"] != p.parts[1]:
            out.append(
                Problem(
                    "/name",
                    f"name '{data['name']}' does not match the folder '{p.parts[1]}'",
                    f"move the file to {p.parts[0]}/{data['name']}/ or fix 'name'",
                    "manifest.location",
                )
            )
        if isinstance(data.get("version"), str) and data["version"] != p.stem:
            out.append(
                Problem(
                    "/version",
                    f"version '{data['version']}' does not match the file name '{p.name}'",
                    f"rename the file to {data['version']}.yaml or fix 'version'",
                    "manifest.location",
                )
            )
    if kind == "registry" and isinstance(data.get("adapter"), str) and data["adapter"] != p.stem:
        out.append(
            Problem(
                "/adapter",
                f"adapter '{data['adapter']}' does not match the file name '{p.name}'",
                f"rename the file to registry/{data['adapter']}.yaml or fix 'adapter'",
                "manifest.location",
            )
        )
    if kind == "identity" and isinstance(data.get("name"), str) and data["name"] != p.stem:
        out.append(
            Problem(
                "/name",
                f"identity '{data['name']}' does not match the file name '{p.name}'",
                f"rename the file to identities/{data['name']}.yaml or fix 'name'",
                "manifest.location",
            )
        )
    return out


def _expand(data: Any, parts: list[str], prefix: str = "") -> Iterator[tuple[str, Any]]:
    if not parts:
        yield prefix, data
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(data, list):
            for i, item in enumerate(data):
                yield from _expand(item, rest, f"{prefix}/{i}")
    elif isinstance(data, dict) and head in data:
        yield from _expand(data[head], rest, f"{prefix}/{head}")


def path_fields(kind: str, data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(pointer, value) of every repository-path field in a manifest."""
    for spec in _PATH_FIELDS.get(kind, ()):
        for pointer, value in _expand(data, spec.strip("/").split("/")):
            if isinstance(value, str):
                yield pointer, value


def confine(root: Path, rel: str) -> Path:
    """Resolve ``rel`` inside ``root``; raise :class:`PathEscapeError` if it leaves it."""
    if not rel:
        raise PathEscapeError("empty path", hint="write the path relative to the repository root")
    if rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
        raise PathEscapeError(
            f"absolute path '{rel}' is not allowed", hint="write the path relative to the repository root"
        )
    if ".." in PurePosixPath(rel.replace("\\", "/")).parts:
        raise PathEscapeError(
            f"path '{rel}' uses '..' to leave its folder",
            hint="write the path relative to the repository root without '..'",
        )
    root_real = Path(os.path.realpath(root))
    target = Path(os.path.realpath(root_real / rel))
    if target != root_real and root_real not in target.parents:
        raise PathEscapeError(
            f"path '{rel}' resolves outside the repository (through a symlink) to {target.name!r}",
            hint="keep data inside the repository, or pin it by 'uri' and digest instead",
        )
    return target


def parse_manifest(
    display: str, data: bytes, *, kind: str | None = None, root: Path | None = None
) -> Manifest:
    """Parse and validate manifest bytes; ``display`` is the repo-relative path shown in errors.

    Raises :class:`ManifestError` with the first problem; use :func:`check_manifest` to
    get all of them.
    """
    manifest, problems = check_manifest(display, data, kind=kind, root=root)
    if problems:
        first = problems[0]
        raise ManifestError(
            first.message,
            hint=first.hint,
            location=Location(
                display, manifest.positions.line(first.pointer) if manifest else None, None, first.pointer
            ),
        )
    assert manifest is not None
    return manifest


def check_manifest(
    display: str, data: bytes, *, kind: str | None = None, root: Path | None = None
) -> tuple[Manifest, list[Problem]]:
    """Parse ``data`` and return the manifest with every problem found.

    YAML-level errors (syntax, encoding, duplicates, aliases) raise :class:`ManifestError`
    since nothing further can be checked.
    """
    value, positions = load_yaml(display, data)
    if not isinstance(value, dict):
        raise ManifestError(
            f"a manifest must be a mapping of fields, found {type(value).__name__}",
            hint="start the file with 'schema_version: 1' and 'kind: ...'",
            location=Location(display, 1),
        )
    expected = kind or kind_for_path(display)
    declared = value.get("kind")
    sv = value.get("schema_version")
    manifest = Manifest(
        kind=str(declared or expected or "unknown"), path=display, data=value, positions=positions
    )
    if "schema_version" not in value:
        return manifest, [
            Problem(
                "",
                "missing required field 'schema_version'",
                "add 'schema_version: 1' at the top",
                "manifest.schema-version",
            )
        ]
    if isinstance(sv, bool) or sv not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        return manifest, [
            Problem(
                "/schema_version",
                f"unsupported schema_version {sv!r} (this ftpolicy supports {supported})",
                "write 'schema_version: 1', or upgrade ftpolicy if the file was written by a newer one",
                "manifest.schema-version",
            )
        ]
    if declared is None:
        return manifest, [
            Problem(
                "",
                "missing required field 'kind'",
                f"add 'kind: {expected}'" if expected else "add kind: one of " + ", ".join(KIND_SCHEMAS),
                "manifest.kind",
            )
        ]
    if declared not in KIND_SCHEMAS:
        return manifest, [
            Problem(
                "/kind",
                f"unknown kind {declared!r}",
                "use one of: " + ", ".join(KIND_SCHEMAS),
                "manifest.kind",
            )
        ]
    if expected and declared != expected:
        return manifest, [
            Problem(
                "/kind",
                f"kind '{declared}' does not belong at {display} (expected '{expected}')",
                "move the file or fix 'kind'",
                "manifest.kind",
            )
        ]
    problems = validate_instance(declared, value)
    if expected:  # name/version must match the place only where the place has a meaning
        problems += _path_name_checks(declared, display, value)
    if root is not None:
        for pointer, rel in path_fields(declared, value):
            if not rel or "\x00" in rel:  # the schema already reports these
                continue
            try:
                confine(root, rel)
            except PathEscapeError as exc:
                # More precise than the schema's pattern message for the same value.
                problems = [p for p in problems if p.pointer != pointer]
                problems.append(Problem(pointer, exc.message, exc.hint, exc.code))
    problems.sort(key=lambda p: positions.line(p.pointer) or 0)
    return manifest, problems


def find_repo_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``ftpolicy.yaml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise UsageError(
        f"no {CONFIG_FILE} found in {start} or any parent folder",
        hint="run `ftpolicy init` to create a governed repository, or pass --repo DIR",
        code="repo.not-found",
    )


def discover(root: Path) -> list[str]:
    """Repo-relative paths of every manifest in a governed repository, sorted."""
    found: set[str] = set()
    for globs in KIND_GLOBS.values():
        for pattern in globs:
            for p in root.glob(pattern):
                if p.is_file() or p.is_symlink():
                    found.add(p.relative_to(root).as_posix())
    return sorted(found)


def load_manifest(root: Path, rel: str) -> Manifest:
    """Load and validate one manifest from the work tree."""
    path = confine(root, rel) if not Path(rel).is_absolute() else Path(rel)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{rel}: no such file", code="file.not-found") from None
    except IsADirectoryError:
        raise UsageError(f"{rel}: is a folder, not a manifest file") from None
    return parse_manifest(rel, data, root=root)
