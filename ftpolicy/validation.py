"""Validate the manifests of a governed repository and collect every problem.

>>> from ftpolicy.validation import validate_repo
>>> report = validate_repo(Path("examples/governed-repo"))  # doctest: +SKIP
>>> report.ok, report.checked, [f.path for f in report.invalid]
(True, 12, [])

Unlike :func:`ftpolicy.manifest.parse_manifest`, which stops at the first problem, this
module reports all problems of every file: schema violations, path confinement
(absolute paths, ``..``, symlinks leaving the repository) and YAML-level errors (one
problem per file, since nothing further can be read). Only the call itself can fail,
with :class:`ftpolicy.errors.UsageError`: no governed repository, a path that does not
exist or lies outside the repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftpolicy.errors import ManifestError, PathEscapeError, UsageError
from ftpolicy.manifest import CONFIG_FILE, KIND_GLOBS, check_manifest, confine, discover, kind_for_path
from ftpolicy.manifest.yamlsafe import MAX_BYTES

if TYPE_CHECKING:
    from ftpolicy.report import Report

REPORT_SCHEMA = "ftpolicy/validate-report/v1"
"""Identifier of the JSON form of :class:`ValidationReport` (bumped on breaking changes)."""

RULES: dict[str, str] = {
    "manifest.yaml": "The file is not safe, well-formed YAML (syntax, duplicate keys, aliases, tags).",
    "manifest.encoding": "The file is not valid UTF-8.",
    "manifest.empty": "The file is empty.",
    "manifest.too-large": "The file is larger than a manifest may be.",
    "manifest.invalid": "The document is not a mapping of fields.",
    "manifest.schema-version": "schema_version is missing or not supported by this ftpolicy.",
    "manifest.kind": "kind is missing, unknown, or does not belong at the file's location.",
    "manifest.schema": "The manifest does not satisfy its JSON Schema.",
    "manifest.location": "name/version do not match the file's place in the repository.",
    "manifest.misplaced": "A YAML file in a manifest folder is not at a manifest location.",
    "manifest.unreadable": "The manifest file cannot be read.",
    "path.escape": "A path leaves the repository (absolute, '..', or a symlink pointing outside).",
}
"""Every problem code :mod:`ftpolicy.validation` reports, with a one-line description."""


@dataclass(frozen=True)
class FileProblem:
    """One problem in one manifest: what is wrong, where, and how to fix it.

    ``line`` and ``column`` are 1-based; ``pointer`` is the JSON pointer of the value
    inside the document (``""`` for the whole document) when the problem has one.
    """

    message: str
    line: int | None = None
    column: int | None = None
    pointer: str | None = None
    hint: str | None = None
    code: str = "manifest.invalid"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys with no value are left out)."""
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("line", "column", "pointer", "hint"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class FileReport:
    """The result for one manifest file (``path`` is repository-relative, POSIX style)."""

    path: str
    kind: str | None
    problems: tuple[FileProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the manifest has no problem."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "path": self.path,
            "kind": self.kind,
            "ok": self.ok,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class ValidationReport:
    """Every manifest checked, in order, with its problems."""

    root: Path
    files: tuple[FileReport, ...]

    @property
    def ok(self) -> bool:
        """True when every manifest is valid."""
        return all(f.ok for f in self.files)

    @property
    def checked(self) -> int:
        """Number of manifests checked."""
        return len(self.files)

    @property
    def invalid(self) -> tuple[FileReport, ...]:
        """The manifests with at least one problem."""
        return tuple(f for f in self.files if not f.ok)

    @property
    def problem_count(self) -> int:
        """Total number of problems over all files."""
        return sum(len(f.problems) for f in self.files)

    def to_report(self, shown: Callable[[str], str] | None = None) -> Report:
        """The same result as a :class:`ftpolicy.report.Report` (for SARIF and GitHub output).

        ``shown`` maps a repository-relative path to the path to print (for example
        relative to the Git work tree that code scanning resolves paths against).
        """
        from ftpolicy.report import Finding, Report, RuleInfo

        name = shown or (lambda rel: rel)
        findings = [
            Finding(
                rule_id=p.code,
                message=p.message,
                file=name(f.path),
                line=p.line,
                column=p.column,
                hint=p.hint,
                category="manifest",
                properties={"kind": f.kind, "pointer": p.pointer}
                if p.pointer is not None
                else {"kind": f.kind},
            )
            for f in self.files
            for p in f.problems
        ]
        return Report(
            kind="validate",
            status="pass" if self.ok else "fail",
            findings=findings,
            summary={"checked": self.checked, "invalid": len(self.invalid)},
            rules={code: RuleInfo(code, short) for code, short in RULES.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """Stable, versioned JSON form (``schema`` is :data:`REPORT_SCHEMA`)."""
        return {
            "schema": REPORT_SCHEMA,
            "repository": str(self.root),
            "ok": self.ok,
            "files": [f.to_dict() for f in self.files],
            "summary": {
                "checked": self.checked,
                "valid": self.checked - len(self.invalid),
                "invalid": len(self.invalid),
                "problems": self.problem_count,
            },
        }


def require_governed_repo(root: Path) -> Path:
    """``root`` resolved, after checking that it holds ``ftpolicy.yaml``.

    Raises :class:`UsageError` (exit 2) when it does not.
    """
    if not root.is_dir():
        raise UsageError(
            f"{root}: no such folder",
            hint="pass --repo DIR with the folder that holds ftpolicy.yaml",
            code="repo.not-found",
        )
    resolved = root.resolve()
    if not (resolved / CONFIG_FILE).is_file():
        raise UsageError(
            f"{root} is not a governed repository: it has no {CONFIG_FILE}",
            hint=f"run `ftpolicy init {root}` to create one, or pass --repo DIR with the folder "
            f"that holds {CONFIG_FILE}",
            code="repo.not-found",
        )
    return resolved


def validate_repo(
    root: Path, paths: Sequence[str] | None = None, *, cwd: Path | None = None
) -> ValidationReport:
    """Validate every manifest of the governed repository at ``root``, or only ``paths``.

    ``paths`` are files or folders, relative to ``cwd`` (default: the current folder)
    or absolute; a folder stands for the manifests found under it. A file that is not at
    a known manifest location is validated by the ``kind`` it declares.

    Raises :class:`UsageError` when ``root`` holds no ``ftpolicy.yaml``, or a path does
    not exist, lies outside the repository, or is a folder without manifests.
    """
    resolved = require_governed_repo(root)
    known = discover(resolved)
    if not paths:
        files = [validate_file(resolved, rel) for rel in known]
        files += misplaced_manifests(resolved, set(known))
        return ValidationReport(resolved, tuple(sorted(files, key=lambda f: f.path)))
    targets, folders = _targets(resolved, paths, Path.cwd() if cwd is None else cwd)
    files = [validate_file(resolved, rel) for rel in targets]
    if folders:  # a folder given stands for everything under it, misplaced files included
        files += [
            f
            for f in misplaced_manifests(resolved, set(known))
            if f.path not in targets and any(f.path.startswith(prefix) for prefix in folders)
        ]
    return ValidationReport(resolved, tuple(files))


def misplaced_manifests(root: Path, known: set[str]) -> list[FileReport]:
    """YAML files inside the manifest folders that are not at a manifest location.

    Nothing reads them (``discover`` does not find them), so a manifest saved as
    ``datasets/tickets.yaml`` or ``datasets/tickets/1.0.yml`` would silently escape
    validation and policy; each is reported as a problem instead.
    """
    places: dict[str, list[str]] = {}
    for globs in KIND_GLOBS.values():
        for pattern in globs:
            folder, sep, _ = pattern.partition("/")
            if sep:
                places.setdefault(folder, []).append(pattern)
    out: list[FileReport] = []
    for folder, patterns in places.items():
        if not (root / folder).is_dir():
            continue
        for path in sorted((root / folder).rglob("*")):
            parts = path.relative_to(root).parts
            rel = "/".join(parts)
            if (
                rel in known
                or path.suffix not in (".yaml", ".yml")
                or any(part.startswith(".") for part in parts)
                or not (path.is_file() or path.is_symlink())
            ):
                continue
            problem = FileProblem(
                "YAML file outside the manifest layout: ftpolicy does not read it, so it is neither "
                f"validated nor governed (manifests here live at {', '.join(patterns)})",
                hint=f"move it to its manifest location (with the .yaml extension), or out of {folder}/",
                code="manifest.misplaced",
            )
            out.append(FileReport(rel, None, (problem,)))
    return out


def validate_file(root: Path, rel: str) -> FileReport:
    """Validate the manifest at repository-relative ``rel``, collecting every problem."""
    location_kind = kind_for_path(rel)
    try:
        target = confine(root, rel)
    except PathEscapeError as exc:
        return FileReport(
            rel,
            location_kind,
            (FileProblem(f"manifest file: {exc.message}", line=1, hint=exc.hint, code=exc.code),),
        )
    if not target.is_file():
        what = "a folder" if target.is_dir() else "not a regular file"
        return FileReport(
            rel,
            location_kind,
            (FileProblem(f"is {what}, not a manifest file", code="manifest.unreadable"),),
        )
    try:
        with target.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return FileReport(
            rel,
            location_kind,
            (FileProblem(f"cannot read the file: {exc.strerror or exc}", code="manifest.unreadable"),),
        )
    try:
        manifest, problems = check_manifest(rel, data, root=root)
    except ManifestError as exc:
        loc = exc.location
        return FileReport(
            rel,
            location_kind,
            (
                FileProblem(
                    exc.message,
                    line=loc.line if loc else None,
                    column=loc.column if loc else None,
                    pointer=loc.pointer if loc else None,
                    hint=exc.hint,
                    code=exc.code,
                ),
            ),
        )
    kind = manifest.kind if manifest.kind != "unknown" else location_kind
    return FileReport(
        rel,
        kind,
        tuple(
            FileProblem(
                p.message,
                line=manifest.positions.line(p.pointer),
                column=manifest.positions.column(p.pointer),
                pointer=p.pointer,
                hint=p.hint,
                code=p.code,
            )
            for p in problems
        ),
    )


def _targets(root: Path, paths: Iterable[str], cwd: Path) -> tuple[list[str], list[str]]:
    """Repository-relative manifest paths for the paths given by the user, in order, once each,
    and the folder prefixes given (``""`` for the repository root)."""
    out: dict[str, None] = {}
    folders: list[str] = []
    for raw in paths:
        rel = _relative_to_repo(root, raw, cwd)
        full = root / rel if rel else root
        if full.is_dir() and not full.is_symlink():
            prefix = f"{rel}/" if rel else ""
            found = [m for m in discover(root) if m.startswith(prefix)]
            if not found:
                raise UsageError(
                    f"{raw}: no manifests in this folder",
                    hint="manifests live at " + ", ".join(g for globs in KIND_GLOBS.values() for g in globs),
                    code="file.not-found",
                )
            out.update(dict.fromkeys(found))
            folders.append(prefix)
        else:
            out[rel] = None
    return list(out), folders


def _relative_to_repo(root: Path, raw: str, cwd: Path) -> str:
    """``raw`` as a repository-relative POSIX path ('' for the root itself).

    Folders on the way are resolved (so a repository reached through a symlink still
    matches); the last component is not, so a manifest that is itself a symlink keeps its
    place in the repository and is checked by :func:`validate_file`.
    """
    given = Path(raw)
    absolute = Path(os.path.abspath(given if given.is_absolute() else cwd / given))
    if not os.path.lexists(absolute):
        raise UsageError(
            f"{raw}: no such file or folder",
            hint="check the path; relative paths are read from the current folder",
            code="file.not-found",
        )
    if absolute == Path(absolute.anchor):
        full = Path(os.path.realpath(absolute))
    else:
        full = Path(os.path.realpath(absolute.parent)) / absolute.name
        if full == root or Path(os.path.realpath(full)) == root:
            return ""
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        raise UsageError(
            f"{raw} is outside the repository {root}",
            hint="pass --repo DIR with the governed repository that holds this file",
            code="file.outside-repo",
        ) from None
